"""`report` read contact by contact (issue 19) equals, byte for byte, the report that read
every row into lists (tests/reporting/reference_report.py), in every format, with and without
a project and `--since`, on SQLite and PostgreSQL; and a database whose references cross
contacts (an event naming another contact's message, a message naming another contact's
enrollment) is reported exactly as before."""

from __future__ import annotations

import json
import random
import textwrap
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journeyctl.store.open import open_store
from journeyctl.store.serialize import to_micros
from tests.pages.project import PROMO, cli
from tests.reporting.reference_report import reference_report

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
report: {min_recipients: 2, open_rate_min: 0.5, click_rate_min: 0.2}
contacts:
  fields: {consent_email: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
NUDGE = """
sequence: nudge
trigger: {event: signed_up}
ad: false
steps:
  - send: first
    subject: First
    body: "Hi"
  - wait: 1d
  - send: second
    subject: Second
    body: "Again"
"""
# Steps per sequence; `legacy` is in no project (its steps are ordered by first sending).
STEPS = {
    "promo": {"a": ["offer-a", "reminder"], "b": ["offer-b", "reminder"]},
    "nudge": {"x": ["first", "second"], "y": ["first", "second"], None: ["first", "second"]},
    "legacy": {None: ["old-1", "old-2", "old-3"]},
}
STATES = ["sent"] * 12 + ["failed", "skipped", "skipped", "planned", "retry", "attempting"]
RESPONSES = ["opened", "opened", "clicked", "bounced", "unsubscribed", "purchased"]
T0 = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)  # late evening in Seoul: days differ from UTC's


def project(root: Path) -> Path:
    proj = root / "proj"
    proj.mkdir()
    for name, text in {"journey.yaml": JOURNEY, "promo.yaml": PROMO, "nudge.yaml": NUDGE}.items():
        (proj / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return proj


def varied_rows(seed: int, contacts: int) -> dict[str, list[tuple[object, ...]]]:
    """Ledger rows, events, enrollments and contacts of `contacts` people: several sequences
    and arms, every ledger state, SMS (no subject), ties in time, responses with and without
    a message id or a step, ids naming another contact's message or enrollment, or nothing."""
    rng = random.Random(seed)
    ids = [f"c{i:03d}" for i in range(contacts)] + ["Zoë", "alpha", "Beta", "b-1", "ß", "Ω"]
    ledger: list[tuple[object, ...]] = []
    events: set[tuple[object, ...]] = set()
    enrollments: list[tuple[object, ...]] = []
    keys: list[str] = []
    enrolled: list[str] = []
    n = 0
    for cid in rng.sample(ids, len(ids)):  # the ledger's order is not the contacts' order
        mine: list[tuple[str, str, datetime]] = []
        for k in range(rng.choice([0, 1, 1, 2, 3])):
            seq = rng.choice(list(STEPS))
            variant = rng.choice(list(STEPS[seq]))
            eid = f"e-{cid}-{k}"
            entered = T0 + timedelta(hours=rng.randrange(0, 96))
            outcome = rng.choice(["active", "completed", "exited", "goal", "goal"])
            ended = None if outcome == "active" else entered + timedelta(hours=rng.randrange(0, 60))
            if outcome == "goal" and rng.random() < 0.1:
                ended = None  # a goal without its instant counts for no message
            enrollments.append((eid, cid, seq, "v1", to_micros(entered), outcome,
                                None if ended is None else to_micros(ended), variant))  # fmt: skip
            enrolled.append(eid)
            for j, step in enumerate(STEPS[seq][variant]):
                if rng.random() < 0.15:
                    continue
                at = entered + timedelta(hours=24 * j + rng.choice([0, 0, 1, 2]))
                ref = eid
                roll = rng.random()
                if roll < 0.06 and enrolled:
                    ref = rng.choice(enrolled)  # maybe another contact's enrollment
                elif roll < 0.1:
                    ref = f"gone-{n}"  # an enrollment pruned or never written
                key = f"m{n:05d}"
                n += 1
                subject = None if rng.random() < 0.15 else f"Subject {step}"
                ledger.append((key, cid, seq, step, "email" if subject else "sms",
                               to_micros(at), "sent", ref, 0, None,
                               None if variant is None else variant, subject,
                               rng.choice(STATES)))  # fmt: skip
                keys.append(key)
                mine.append((key, step, at))
        for _ in range(rng.choice([0, 1, 2, 4, 6])):
            name = rng.choice(RESPONSES)
            base = mine[rng.randrange(len(mine))][2] if mine else T0
            at = base + timedelta(minutes=rng.choice([-30, 0, 0, 5, 90, 2000]))
            props: list[list[object]] = []
            roll = rng.random()
            if roll < 0.35 and mine:
                props.append(["message_id", rng.choice(mine)[0]])
            elif roll < 0.42 and keys:
                props.append(["message_id", rng.choice(keys)])  # maybe another contact's
            elif roll < 0.46:
                props.append(["message_id", "no-such-message"])
            if rng.random() < 0.25:
                props.append(["step", rng.choice(["first", "second", "reminder", "old-2"])])
            events.add((cid, name, to_micros(at), json.dumps(props)))
    contacts_rows = [(cid, f"{cid}@example.com") for cid in ids if rng.random() < 0.7]
    return {
        "ledger": ledger,
        "events": sorted(events, key=lambda e: (e[2], e[0], e[1])),
        "enrollments": enrollments,
        "contacts": contacts_rows,
    }


def fill(db: str, rows: dict[str, list[tuple[object, ...]]]) -> None:
    store = open_store(db)
    try:
        c = store.conn
        c.executemany(
            "INSERT INTO ledger (key, contact_id, sequence, step, channel, at, status, "
            "enrollment_id, is_marketing, reason, variant, subject, state) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows["ledger"],
        )
        c.executemany(
            "INSERT INTO events (contact_id, event, at, props, enrolls, processed) "
            "VALUES (?,?,?,?,0,1)",
            rows["events"],
        )
        c.executemany(
            "INSERT INTO enrollments (id, contact_id, sequence, version, entered_at, outcome, "
            "ended_at, variant) VALUES (?,?,?,?,?,?,?,?)",
            rows["enrollments"],
        )
        c.executemany(
            "INSERT INTO contacts (id, email, attrs) VALUES (?, ?, '{}')", rows["contacts"]
        )
        c.executemany(
            "INSERT INTO contact_state (contact_id, cursor) VALUES (?, 0)",
            [(r[0],) for r in rows["contacts"]],
        )
    finally:
        store.close()


def same_as_reference(tmp_path: Path, proj: Path, db: str, since: str | None, fmt: str) -> None:
    got, want = tmp_path / f"got.{fmt}", tmp_path / f"want.{fmt}"
    extra = ["--since", since] if since else []
    code, _, err = cli("report", str(proj), "--db", db, *extra, "--format", fmt, "--out", str(got))
    assert code == 0, err
    reference_report(proj, db, since, fmt, want)
    a, b = got.read_bytes(), want.read_bytes()
    assert a == b, f"{fmt} since={since} project={proj.is_dir()}: the streamed report differs"


@pytest.mark.parametrize("batch", [1, 7, 100_000])
def test_streamed_report_equals_the_whole_set_report(
    db_url: str, tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several contacts per batch, one, and the whole database in one.
    monkeypatch.setattr("journeyctl.reporting.db_rows.BATCH_ROWS", batch)
    fill(db_url, varied_rows(seed=19, contacts=60))
    proj = project(tmp_path)
    for folder in (proj, tmp_path / "no-project"):
        for since in (None, "2026-11-03T09:00"):
            for fmt in ("text", "json", "csv", "html"):
                if fmt == "html" and folder == proj and since is not None:
                    continue  # the stories are the same; one page with a project is enough
                same_as_reference(tmp_path, folder, db_url, since, fmt)


@pytest.mark.parametrize("seed", range(6))
def test_many_small_databases(
    seed: int, tmp_path: Path, new_db: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("journeyctl.reporting.db_rows.BATCH_ROWS", 3)
    db = new_db(tmp_path / "db")
    fill(db, varied_rows(seed=seed, contacts=25))
    proj = project(tmp_path)
    for since in (None, "2026-11-02T12:00"):
        same_as_reference(tmp_path, proj, db, since, "json")


def plain_rows(contacts: int) -> dict[str, list[tuple[object, ...]]]:
    """Every contact alike (an enrollment in an arm, two messages, an open naming the first,
    a click naming none): the counts stay the same size whatever the number of contacts."""
    out: dict[str, list[tuple[object, ...]]] = {k: [] for k in ("ledger", "events", "enrollments")}
    out["contacts"] = []
    for i in range(contacts):
        cid, eid, arm = f"p{i:05d}", f"e{i:05d}", "ab"[i % 2]
        at = to_micros(T0 + timedelta(minutes=i % 600))
        out["enrollments"].append((eid, cid, "promo", "v1", at, "goal", at + 7_200_000_000, arm))
        for j, step in enumerate((f"offer-{arm}", "reminder")):
            out["ledger"].append((f"k{i:05d}-{j}", cid, "promo", step, "email",
                                  at + j * 3_600_000_000, "sent", eid, 0, None, arm, "S",
                                  "sent"))  # fmt: skip
        out["events"].append(
            (cid, "opened", at + 60_000_000, json.dumps([["message_id", f"k{i:05d}-0"]]))
        )
        out["events"].append((cid, "clicked", at + 120_000_000, "[]"))
    return out


def peak_bytes(db: str, proj: Path, out: Path) -> int:
    """The peak of Python's allocations while `report` runs in this process."""
    tracemalloc.start()
    try:
        code, _, err = cli("report", str(proj), "--db", db, "--format", "json", "--out", str(out))
        assert code == 0, err
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_follow_the_ledger(
    tmp_path: Path, new_db: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small windows, so that the small database already fills several. Holding every row (as
    # `report` did before) adds several hundred bytes a row: 5,000 more rows here.
    monkeypatch.setattr("journeyctl.reporting.db_rows.BATCH_ROWS", 100)
    small, large = new_db(tmp_path / "small"), new_db(tmp_path / "large")
    fill(small, plain_rows(250))  # 1,250 rows
    fill(large, plain_rows(1250))  # 6,250 rows
    proj, out = project(tmp_path), tmp_path / "out.json"
    peak_bytes(small, proj, out)  # the first run's one-time costs (imports, caches)
    peak_small = peak_bytes(small, proj, out)
    grew = peak_bytes(large, proj, out) - peak_small
    print(f"peak grew {grew} bytes from 1,250 to 6,250 rows")
    assert json.loads(out.read_text(encoding="utf-8"))["steps"][0]["sent"] == 625
    assert grew < 150 * 1000, f"peak grew {grew} bytes from 1,250 to 6,250 rows"
