"""reporting.sim_text writes what the plain renderings write: `json.dumps` of timeline's
message and enrollment dicts (indented as the document indents its list items, or on one
line for JSONL), `csv.writer` over `csvsafe.cell`, for any text, None, zone and instant
(DST transitions included), and its sort keys give the document's order."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl.engine.model import Enrollment, Message, Outcome, Status
from journeyctl.reporting.csvsafe import cell
from journeyctl.reporting.sim_text import (
    Zones,
    csv_messages,
    json_enrollments,
    json_messages,
    jsonl_messages,
)
from journeyctl.reporting.timeline import MESSAGE_FIELDS, enrollment_dict, message_dict

PROJECT_TZ = "Asia/Seoul"
ZONE_NAMES = ["Asia/Seoul", "America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"]

# Text a JSON string escapes, a spreadsheet reads as a formula, CSV quotes, or that is not
# ASCII; st.text() adds the rest.
TRICKY = ['"', "\\", "\n", "\r\n", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "é", "😀",
          "(광고) 김서윤님", "=1+1", "-5", "+x", "@a", "\tx", "\rx", ",", "a,b", "", " ", "-"]  # fmt: skip


def _near_transitions() -> list[datetime]:
    """Instants within a few hours of the DST changes of 2026 in the zones above."""
    changes = [
        datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York springs forward
        datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York falls back
        datetime(2026, 3, 29, 1, tzinfo=UTC),  # London
        datetime(2026, 10, 25, 1, tzinfo=UTC),
        datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe: half an hour
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    ]
    return [c + timedelta(minutes=m) for c in changes for m in (-61, -30, -1, 0, 1, 29, 30, 90)]


instants = st.one_of(
    st.sampled_from(_near_transitions()),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
    ),
)
texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
maybe = st.one_of(st.none(), texts)


@st.composite
def chunks(draw: st.DrawFn) -> tuple[list[Message], list[Enrollment], dict[str, str]]:
    """A chunk's messages and enrollments: a few contacts (some without a zone of their own),
    their decisions sharing a few instants, names and steps, in contact order."""
    ids = draw(st.lists(texts, min_size=1, max_size=5, unique=True))
    zones = {cid: draw(st.sampled_from(ZONE_NAMES)) for cid in ids if draw(st.booleans())}
    pool = draw(st.lists(instants, min_size=1, max_size=4))
    names = draw(st.lists(texts, min_size=1, max_size=3))
    at = st.sampled_from(pool)
    messages: list[Message] = []
    enrollments: list[Enrollment] = []
    for cid in ids:
        for _ in range(draw(st.integers(0, 4))):
            m = Message(
                None, cid, draw(st.sampled_from(names)), draw(st.sampled_from(names)),
                draw(texts), draw(at), draw(st.sampled_from(list(Status))), "e", False,
                reason=draw(maybe), deferred_from=draw(st.one_of(st.none(), at)),
                deferred_by=draw(maybe), variant=draw(maybe), subject=draw(maybe),
            )  # fmt: skip
            messages.append(m)
        for _ in range(draw(st.integers(0, 2))):
            e = Enrollment(
                "e", cid, draw(st.sampled_from(names)), "v", draw(at), None, None,
                outcome=draw(st.sampled_from(list(Outcome))),
                ended_at=draw(st.one_of(st.none(), at)), reason=draw(maybe),
            )  # fmt: skip
            enrollments.append(e)
    return messages, enrollments, zones


def _tz(zones: dict[str, str], cid: str) -> ZoneInfo:
    return ZoneInfo(zones.get(cid, PROJECT_TZ))


def _item(doc: dict[str, object]) -> str:
    """An object as `json.dumps(document, indent=2)` writes it inside the document's list."""
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    return "\n".join("    " + line for line in text.split("\n"))


def _us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@settings(max_examples=300, deadline=None)
@given(chunks())
def test_json_items_are_json_dumps_and_sort_as_the_document(
    chunk: tuple[list[Message], list[Enrollment], dict[str, str]],
) -> None:
    messages, enrollments, zones = chunk
    rows = json_messages(messages, Zones(zones, PROJECT_TZ), 7)
    assert [r[-1].decode() for r in rows] == [_item(message_dict(m, _tz(zones, m.contact_id))) for m in messages]  # fmt: skip
    assert [r[:-1] for r in rows] == [
        (_us(m.at), m.contact_id, m.sequence, m.step, 7, pos) for pos, m in enumerate(messages)
    ]
    # the document's order (timeline.to_json): a stable sort by time, contact, sequence, step
    ordered = sorted(messages, key=lambda m: (m.at, m.contact_id, m.sequence, m.step))
    assert [r[-1].decode() for r in sorted(rows)] == [
        _item(message_dict(m, _tz(zones, m.contact_id))) for m in ordered
    ]
    rows = json_enrollments(enrollments, Zones(zones, PROJECT_TZ), 7)
    ordered_e = sorted(enrollments, key=lambda e: (e.entered_at, e.contact_id, e.sequence))
    assert [r[-1].decode() for r in rows] == [
        _item(enrollment_dict(e, _tz(zones, e.contact_id))) for e in ordered_e
    ]


@settings(max_examples=300, deadline=None)
@given(chunks())
def test_jsonl_lines_are_json_dumps_contact_by_contact(
    chunk: tuple[list[Message], list[Enrollment], dict[str, str]],
) -> None:
    messages, _, zones = chunk
    order: dict[str, int] = {}
    for m in messages:
        order.setdefault(m.contact_id, len(order))
    expected = sorted(messages, key=lambda m: (order[m.contact_id], m.at, m.sequence, m.step))
    lines = jsonl_messages(messages, Zones(zones, PROJECT_TZ))
    assert [line.decode() for line in lines] == [
        json.dumps(message_dict(m, _tz(zones, m.contact_id)), ensure_ascii=False) + "\n"
        for m in expected
    ]


@settings(max_examples=300, deadline=None)
@given(chunks())
def test_csv_rows_are_csv_writer_over_safe_cells(
    chunk: tuple[list[Message], list[Enrollment], dict[str, str]],
) -> None:
    messages, _, zones = chunk
    rows = csv_messages(messages, Zones(zones, PROJECT_TZ), 3)
    expected = []
    for m in messages:
        buf = io.StringIO()
        d = message_dict(m, _tz(zones, m.contact_id))
        csv.writer(buf, lineterminator="\n").writerow([cell(d[f]) for f in MESSAGE_FIELDS])
        expected.append(buf.getvalue())
    assert [r[-1].decode() for r in rows] == expected
    assert [r[:-1] for r in rows] == [
        (_us(m.at), m.contact_id, m.sequence, m.step, 3, pos) for pos, m in enumerate(messages)
    ]
