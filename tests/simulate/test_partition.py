"""simulate's Partition gives back, chunk by chunk, the very contacts and events it was given:
every attribute type the readers make (instants kept as UTC datetimes, dates, numbers,
flags, text, empties), events grouped by contact in file order, other contacts' events
dropped, over several event batches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from journeyctl.engine.model import Contact, Event
from journeyctl.simulate import partition
from journeyctl.simulate.partition import Partition

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def contacts(n: int) -> list[Contact]:
    return [
        Contact(
            f"c{i}",
            f"u{i}@example.com" if i % 3 else None,
            "01012345678" if i % 2 else None,
            "김민준" if i % 4 else None,
            "Asia/Seoul" if i % 5 else None,
            {
                "signup_at": T0 - timedelta(minutes=i) if i % 7 else None,
                "birthday": date(1990, 1, 1) + timedelta(days=i),
                "orders": i,
                "ratio": i / 8,
                "vip": bool(i % 2),
                "city": "서울",
                "last_at": T0,  # one object shared by every contact, as a parser's memo gives
            },
        )
        for i in range(n)
    ]


def events(n: int, people: int) -> list[Event]:
    return [
        Event(
            f"c{i % (people + 3)}",  # every few events belong to no contact of the file
            ("purchased", "opened")[i % 2],
            T0 + timedelta(seconds=i),
            (("amount", str(i)), ("step", "x")) if i % 3 else (),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_chunks_give_back_what_went_in(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(partition, "_EVENT_BATCH", 13)  # several batches per chunk
    people, happened = contacts(40), events(500, 40)
    part = Partition(chunk)
    try:
        for c in people:
            part.add_contact(c)
        for e in happened:
            part.add_event(e)
        chunks = part.seal()
        assert chunks == -(-40 // chunk)
        assert list(part.sizes()) == [min(chunk, 40 - i * chunk) for i in range(chunks)]
        got_contacts: list[Contact] = []
        got_events: dict[str, list[Event]] = {}
        for i in range(chunks):
            these, grouped = part.load(i)
            got_contacts += these
            assert set(grouped) <= {c.id for c in these}
            got_events.update(grouped)
    finally:
        part.close()
    assert got_contacts == people
    for c in got_contacts:
        for v in c.attrs.values():
            assert not isinstance(v, datetime) or v.tzinfo is UTC
    ids = {c.id for c in people}
    expected: dict[str, list[Event]] = {}
    for e in happened:
        if e.contact_id in ids:
            expected.setdefault(e.contact_id, []).append(e)
    assert got_events == expected
    assert part.events == sum(map(len, expected.values()))
