"""A contact's state assembled from its rows, and the rows a save writes: the Python around
the SQL that both stores share. Each store keeps only its statements (placeholders, `IN`
against `= ANY`, locks and leases) and how it runs them.

Loading: one query per table (contact + state, enrollments, events, ledger), each filtered by
the batch's ids. Saving: `save_rows` turns the engine's results into the row lists the store
writes in one transaction; ledger rows carry the store's own trailing columns (`extra`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from journeyctl.data import build
from journeyctl.engine.model import ContactState, Event, Message, Status, StepResult
from journeyctl.store.serialize import (
    dumps,
    from_micros,
    loads,
    memoized,
    props_from_json,
    to_micros,
)
from journeyctl.store.sqlite.connection import Loaded
from journeyctl.store.sqlite.events import all_event_rows, events_delta
from journeyctl.store.sqlite.rows import (
    ENROLLMENTS,
    MESSAGES,
    enrollment_row,
    triggers_json,
    triggers_of,
)

_set_enrolls = Event.enrolls.__set__  # type: ignore[misc, attr-defined]  # frozen slots: see data.build

# A query over the batch: SQL whose `{ids}` is the store's filter on the given column, run
# with the batch's ids bound.
Query = Callable[[str, str], Iterable[tuple[Any, ...]]]


def load_states(
    query: Query, ids: Sequence[str], message_columns: str, loaded: dict[str, Loaded],
    lock: str = "",
) -> list[ContactState]:  # fmt: skip
    """The states of `ids`, in that order, remembering in `loaded` what each save must not
    write again. `lock`: appended to the contacts' query (PostgreSQL locks their state rows
    for the transaction). A missing contact raises KeyError."""
    instant = memoized(from_micros)  # one datetime per distinct value (immutable)
    states: dict[str, ContactState] = {}
    for cid, email, phone, name, tz, attrs, cursor, triggers, suppressed in query(
        "SELECT c.id, c.email, c.phone, c.name, c.timezone, c.attrs, s.cursor, s.triggers, "
        "s.suppressed FROM contacts c JOIN contact_state s ON s.contact_id = c.id "
        "WHERE {ids}" + lock,
        "c.id",
    ):
        # By name: the lists fill from their own tables below; the rest keep defaults.
        states[cid] = ContactState(
            contact=build.contact(cid, email, phone, name, tz, loads(attrs)),
            cursor=instant(cursor),
            triggers={} if triggers == "{}" else triggers_of(triggers),
            suppressed={}
            if suppressed == "{}"
            else {k: from_micros(v) for k, v in loads(suppressed).items()},
        )
    if len(states) != len(set(ids)):
        raise KeyError(next(cid for cid in ids if cid not in states))
    enrollment = ENROLLMENTS.decode
    for r in query(
        f"SELECT {ENROLLMENTS.columns} FROM enrollments WHERE {{ids}} ORDER BY contact_id, seq",
        "contact_id",
    ):
        states[r[1]].enrollments.append(enrollment(r, instant))
    pending: dict[str, list[tuple[Event, int]]] = {}
    for eid, cid, name, at, props, enrolls, processed in query(
        "SELECT id, contact_id, event, at, props, enrolls, processed FROM events "
        "WHERE {ids} ORDER BY contact_id, at, id",
        "contact_id",
    ):
        ev = build.event(cid, name, instant(at), props_from_json(props))
        if not enrolls:
            _set_enrolls(ev, False)
        if processed:
            states[cid].events.append(ev)
        else:
            states[cid].pending.append(ev)
            pending.setdefault(cid, []).append((ev, eid))
    message = MESSAGES.decode
    for r in query(
        f"SELECT {message_columns} FROM ledger WHERE {{ids}} ORDER BY contact_id, id",
        "contact_id",
    ):
        states[r[1]].messages.append(message(r, instant))
    out = []
    for cid in ids:
        state = states[cid]
        if state.messages:
            state.cap_times = sorted(
                m.at for m in state.messages if m.status is Status.SENT and m.is_marketing
            )
        loaded[cid] = Loaded(pending.get(cid, []), len(state.events), len(state.messages))
        out.append(state)
    return out


@dataclass
class SaveRows:
    """What one save writes, table by table, in the order the store should write it."""

    all_events: list[tuple[Any, ...]] = field(default_factory=list)  # states not loaded here
    rearm: list[tuple[str, str]] = field(default_factory=list)  # failed rows making way
    states: list[tuple[Any, ...]] = field(default_factory=list)  # loaded: plain UPDATE
    new_states: list[tuple[Any, ...]] = field(default_factory=list)  # not loaded: upsert
    enrollments: list[tuple[Any, ...]] = field(default_factory=list)
    done: list[tuple[int]] = field(default_factory=list)  # events now processed
    fresh: list[tuple[Any, ...]] = field(default_factory=list)  # events new to the store
    ledger: list[tuple[Any, ...]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key -> located reason
    claimed: list[Message] = field(default_factory=list)  # written `attempting`


def save_rows(
    saves: Iterable[tuple[ContactState, StepResult]], loaded: dict[str, Loaded],
    attempting: tuple[Any, ...] | None, extra: tuple[Any, ...] = (),
) -> SaveRows:  # fmt: skip
    """The rows of `saves`, ledger rows in the order of `saves` (their ids are the decision
    order). A contact loaded by this connection writes only what changed since (`loaded`).

    `attempting`: the ledger columns after the message's of a new sent message the caller
    delivers right after the commit (claimed); None writes them `planned`. `extra`: the
    store's columns after (state, attempts, next_attempt_at) for every other ledger row."""
    rows = SaveRows()
    message_row = MESSAGES.row
    micros = memoized(to_micros)
    skipped = ("skipped", 0, None, *extra)
    failed_tail = ("failed", 0, None, *extra)
    for state, result in saves:
        cid = state.contact.id
        assert state.cursor is not None
        seen = loaded.pop(cid, None)
        (rows.states if seen is not None else rows.new_states).append(
            (
                micros(state.cursor),
                None if result.next_due is None else micros(result.next_due),
                triggers_json(state.triggers) if state.triggers else "{}",
                dumps({k: to_micros(v) for k, v in state.suppressed.items()})
                if state.suppressed
                else "{}",
                cid,
            )
        )
        if seen is None:
            rows.enrollments += [
                enrollment_row(e, i, micros) for i, e in enumerate(state.enrollments)
            ]
            rows.all_events += all_event_rows(state)
        else:
            changed = {e.id for e in result.changed} if result.changed else ()
            rows.enrollments += [
                enrollment_row(e, i, micros)
                for i, e in enumerate(state.enrollments)
                if e.is_active or e.id in changed
            ]
            events_delta(state, seen, rows.done, rows.fresh)
        if result.rearmed:  # tried again after a render failure: the failed row makes way
            rows.rearm += [(cid, e.id) for e in result.rearmed]
        if result.failures:
            rows.failed.update((m.key, why) for m, why in result.failures)
        for m in result.messages if seen is not None else state.messages:
            if m.reason == "render_error" and m.key in rows.failed:
                rows.ledger.append(message_row(m, micros) + failed_tail)
            elif m.status is not Status.SENT:
                rows.ledger.append(message_row(m, micros) + skipped)
            elif attempting is None:
                rows.ledger.append((*message_row(m, micros), "planned", 0, micros(m.at), *extra))
            else:
                rows.ledger.append(message_row(m, micros) + attempting)
                rows.claimed.append(m)
    return rows
