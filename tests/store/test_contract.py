"""One contract, every store: MemoryStore (tests), SqliteStore and PostgresStore (run) behave
the same."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from journeyctl.engine.model import (
    Contact,
    ContactState,
    Enrollment,
    Event,
    Message,
    Outcome,
    Status,
    StepResult,
    TriggerMark,
)
from journeyctl.store.base import Delivery, Store
from journeyctl.store.memory import MemoryStore
from journeyctl.store.open import open_store
from tests.builders import at, contact, event

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore

T0 = at("2026-11-01 09:00")
BORN = T0 - timedelta(microseconds=1)

Reopen = Callable[[], Store]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Reopen]]:
    """A fresh store and a function that reopens it (a new connection for SQLite and
    PostgreSQL)."""
    if request.param == "memory":
        mem = MemoryStore()
        yield mem, lambda: mem
        return
    db = request.getfixturevalue("pg_url") if request.param == "postgres" else tmp_path / "j.db"
    opened: list[OpenStore] = []

    def reopen() -> Store:
        s = open_store(db)
        opened.append(s)
        return s

    first = reopen()
    yield first, reopen
    for s in opened:
        s.close()


@pytest.fixture
def store(stores: tuple[Store, Reopen]) -> Store:
    return stores[0]


def msg(
    key: str, cid: str = "c1", step: str = "hello", when: datetime = T0, **kw: object
) -> Message:
    fields: dict[str, object] = {
        "_key": key, "contact_id": cid, "sequence": "welcome", "step": step, "channel": "email",
        "at": when, "status": Status.SENT, "enrollment_id": f"welcome:{cid}:1",
        "is_marketing": True,
    }  # fmt: skip
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


def save_messages(
    store: Store, cid: str, *messages: Message, next_due: datetime | None = None
) -> None:
    with store.transaction():
        state = store.load(cid)
        state.messages.extend(messages)
        store.save(state, StepResult(messages=list(messages), next_due=next_due))


# --- contacts ------------------------------------------------------------------------------


def test_upsert_counts_new_contacts_and_new_ones_are_due_at_birth(store: Store) -> None:
    assert store.upsert_contacts([contact("c1"), contact("c2")], born=BORN) == 2
    assert store.upsert_contacts([contact("c1"), contact("c3")], born=BORN) == 1
    assert store.due_contacts(BORN) == ["c1", "c2", "c3"]
    assert store.due_contacts(BORN - timedelta(microseconds=1)) == []
    state = store.load("c2")
    assert state.cursor == BORN and state.contact == contact("c2")


def test_unchanged_reimport_does_not_wake_but_a_change_does(store: Store) -> None:
    store.upsert_contacts([contact("c1", vip=False)], born=BORN)
    with store.transaction():
        state = store.load("c1")
        state.cursor = T0
        store.save(state, StepResult(next_due=None))
    assert store.due_contacts(T0 + timedelta(days=1)) == []
    store.upsert_contacts([contact("c1", vip=False)], born=T0)
    assert store.due_contacts(T0 + timedelta(days=1)) == []
    store.upsert_contacts([contact("c1", vip=True)], born=T0)
    assert store.due_contacts(T0) == ["c1"]  # woken at its cursor to re-check triggers
    assert store.load("c1").contact.attrs == {"vip": True}


def test_typed_attributes_come_back_typed(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    c = Contact(
        "c1", "a@example.com", None, "김하나", "Asia/Seoul",
        {"birthday": date(1990, 2, 28), "signup_at": T0, "orders": 3, "score": 1.5, "vip": True,
         "plan": "pro", "empty": None},
    )  # fmt: skip
    store.upsert_contacts([c], born=BORN)
    assert reopen().load("c1").contact == c


# --- events --------------------------------------------------------------------------------


def test_events_dedupe_on_their_natural_key(store: Store) -> None:
    store.upsert_contacts([contact("c1")], born=BORN)
    evs = [
        event("c1", "purchased", T0, order="A1"),
        event("c1", "purchased", T0, order="A2"),  # other properties: another event
        event("c1", "opened", T0 + timedelta(hours=1)),
    ]
    assert store.add_events(evs) == 3
    assert store.add_events(evs) == 0  # re-import is a no-op
    assert store.add_events([event("c1", "purchased", T0, order="A1")]) == 0
    assert store.add_events([event("nobody", "purchased", T0)]) == 0  # importer reports these
    state = store.load("c1")
    assert sorted((e.name, e.props) for e in state.pending) == [
        ("opened", ()),
        ("purchased", (("order", "A1"),)),
        ("purchased", (("order", "A2"),)),
    ]


def test_history_flag_survives(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    store.upsert_contacts([contact("c1")], born=BORN)
    store.add_events([Event("c1", "subscribed", T0 - timedelta(days=9), (), enrolls=False)])
    (ev,) = reopen().load("c1").pending
    assert ev.enrolls is False


def test_an_event_wakes_its_contact_at_its_time_or_at_the_cursor(store: Store) -> None:
    store.upsert_contacts([contact("c1"), contact("c2")], born=BORN)
    for cid in ("c1", "c2"):
        with store.transaction():
            state = store.load(cid)
            state.cursor = T0
            state.triggers["seg"] = TriggerMark(T0, False)  # known: a check has seen it
            store.save(state, StepResult(next_due=None))
    store.add_events([event("c1", "clicked", T0 + timedelta(hours=2))])
    store.add_events([event("c2", "clicked", T0 - timedelta(hours=2))])  # arrived late
    assert store.due_contacts(T0 + timedelta(hours=1)) == ["c2"]
    assert store.due_contacts(T0 + timedelta(hours=2)) == ["c2", "c1"]
    assert store.next_wake() == T0


def test_a_new_contact_starts_just_before_its_first_enrolling_event(store: Store) -> None:
    """SPEC §5: a contact that arrives in the same export as its events is processed from
    them, not from its import (nothing has happened to it that could be repeated)."""
    store.upsert_contacts([contact("c1")], born=T0)
    late = T0 - timedelta(minutes=30)
    store.add_events(
        [event("c1", "subscribed", late), event("c1", "purchased", late + timedelta(minutes=1))]
    )
    assert store.next_wake() == late - timedelta(microseconds=1)
    with store.transaction():
        assert store.load("c1").cursor == late - timedelta(microseconds=1)


def test_due_contacts_are_ordered_by_wake_time_then_id_and_limited(store: Store) -> None:
    store.upsert_contacts([contact(c) for c in ("a", "b", "c", "d")], born=BORN)
    wakes = {"a": T0 + timedelta(hours=3), "b": T0, "c": T0 + timedelta(hours=1), "d": None}
    for cid, wake in wakes.items():
        with store.transaction():
            state = store.load(cid)
            state.cursor = T0 - timedelta(hours=1)
            store.save(state, StepResult(next_due=wake))
    assert store.due_contacts(T0 + timedelta(days=1)) == ["b", "c", "a"]
    assert store.due_contacts(T0 + timedelta(days=1), limit=2) == ["b", "c"]
    assert store.due_contacts(T0 + timedelta(minutes=59)) == ["b"]
    assert store.next_wake() == T0


# --- the ledger ----------------------------------------------------------------------------


def test_claim_marks_attempting_and_a_second_claim_gets_nothing(store: Store) -> None:
    store.upsert_contacts([contact("c1")], born=BORN)
    skipped = msg("k3", step="bye", status=Status.SKIPPED, reason="unsubscribed")
    save_messages(store, "c1", msg("k1"), msg("k2", step="again"), skipped)
    claimed = store.claim_deliveries(T0)
    assert [(m.key, n) for m, n in claimed] == [("k1", 1), ("k2", 1)]
    assert store.claim_deliveries(T0 + timedelta(days=1)) == []
    states = {r.message.key: r.state for r in store.ledger()}
    assert states == {"k1": Delivery.ATTEMPTING, "k2": Delivery.ATTEMPTING, "k3": Delivery.SKIPPED}


def test_idle_until_a_contact_or_a_delivery_is_due_or_interrupted(store: Store) -> None:
    """is_idle answers the tick's three questions (the idle cron minute asks it: run.idle)."""
    assert store.is_idle(T0)
    store.upsert_contacts([contact("c1")], born=BORN)
    assert not store.is_idle(T0)  # a new contact is due at birth
    save_messages(store, "c1", msg("k1"), next_due=T0 + timedelta(days=1))
    assert not store.is_idle(T0)  # a planned delivery
    store.claim_deliveries(T0)
    assert not store.is_idle(T0)  # an interrupted (attempting) delivery to recover
    store.mark_retry("k1", T0 + timedelta(minutes=5), "451 try later")
    assert store.is_idle(T0 + timedelta(minutes=4))
    assert not store.is_idle(T0 + timedelta(minutes=5))  # the retry is due
    store.mark_failed("k1", "gave up")
    assert store.is_idle(T0 + timedelta(hours=1))
    assert not store.is_idle(T0 + timedelta(days=1))  # the contact wakes


def test_claim_limit_takes_the_earliest_decisions(store: Store) -> None:
    store.upsert_contacts([contact("c1")], born=BORN)
    save_messages(store, "c1", *(msg(f"k{i}", step=f"s{i}") for i in range(5)))
    assert [m.key for m, _ in store.claim_deliveries(T0, limit=2)] == ["k0", "k1"]
    assert [m.key for m, _ in store.claim_deliveries(T0)] == ["k2", "k3", "k4"]


def test_retry_is_claimed_again_only_when_due_with_the_next_attempt_number(store: Store) -> None:
    store.upsert_contacts([contact("c1")], born=BORN)
    save_messages(store, "c1", msg("k1"))
    store.claim_deliveries(T0)
    store.mark_retry("k1", T0 + timedelta(minutes=5), "451 try later")
    (row,) = store.ledger()
    assert (row.state, row.next_attempt_at, row.error) == (
        Delivery.RETRY,
        T0 + timedelta(minutes=5),
        "451 try later",
    )
    assert store.claim_deliveries(T0 + timedelta(minutes=4)) == []
    [(m, attempt)] = store.claim_deliveries(T0 + timedelta(minutes=5))
    assert (m.key, attempt) == ("k1", 2)


def test_mark_sent_and_failed_are_recorded(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    store.upsert_contacts([contact("c1")], born=BORN)
    save_messages(store, "c1", msg("k1"), msg("k2", step="two"))
    store.claim_deliveries(T0)
    store.mark_sent("k1", T0 + timedelta(seconds=3), "outbox.jsonl:1")
    store.mark_failed("k2", "550 no such user")
    rows = {r.message.key: r for r in reopen().ledger()}
    assert rows["k1"].state is Delivery.SENT
    assert rows["k1"].delivered_at == T0 + timedelta(seconds=3)
    assert (rows["k2"].state, rows["k2"].error) == (Delivery.FAILED, "550 no such user")
    assert reopen().claim_deliveries(T0 + timedelta(days=9)) == []


def test_idempotency_key_is_unique(store: Store) -> None:
    store.upsert_contacts([contact("c1")], born=BORN)
    save_messages(store, "c1", msg("k1"))
    store.claim_deliveries(T0)
    store.mark_sent("k1", T0)
    save_messages(store, "c1", msg("k1", subject="again"))  # the same decision re-made
    (row,) = store.ledger()
    assert row.state is Delivery.SENT and row.message.subject is None
    assert store.claim_deliveries(T0) == []


def test_stale_attempts_by_claim_time(store: Store) -> None:
    store.upsert_contacts([contact("c1")], born=BORN)
    save_messages(store, "c1", msg("k1"), msg("k2", step="two"))
    store.claim_deliveries(T0, limit=1)
    store.claim_deliveries(T0 + timedelta(minutes=30))
    assert [m.key for m in store.stale_attempts(T0 + timedelta(minutes=10))] == ["k1"]
    assert [m.key for m in store.stale_attempts(None)] == ["k1", "k2"]
    store.mark_sent("k1", T0)
    assert [m.key for m in store.stale_attempts(None)] == ["k2"]


# --- whole contact state -------------------------------------------------------------------


def full_state() -> tuple[ContactState, StepResult]:
    c = contact("c1", vip=True, birthday=date(1990, 2, 28))
    e1 = Enrollment(
        id="welcome:c1:1", contact_id="c1", sequence="welcome", version="abc123",
        entered_at=T0, position="nudge", due_at=T0 + timedelta(days=2),
        variant="b", waiting_since=T0 + timedelta(hours=1),
        deferred_from=T0 + timedelta(minutes=5), deferred_by="quiet_hours",
    )  # fmt: skip
    e2 = Enrollment(
        id="win-back:c1:0", contact_id="c1", sequence="win-back", version="def456",
        entered_at=T0 - timedelta(days=30), position=None, due_at=None,
        outcome=Outcome.GOAL, ended_at=T0 - timedelta(days=20), reason="purchased",
    )  # fmt: skip
    sent = msg(
        "k1", step="hello", enrollment_id=e1.id, reason=None,
        deferred_from=T0 - timedelta(hours=1), deferred_by="quiet_hours", variant="b",
        subject="(광고) 안녕하세요", text="본문", html="<p>본문</p>", to="c1@example.com",
        unsubscribe_url="https://example.com/u/tok",
    )  # fmt: skip
    skipped = msg(
        "k2", step="sms", channel="sms", at=T0 + timedelta(hours=1), status=Status.SKIPPED,
        is_marketing=False, reason="unsubscribed", enrollment_id=e1.id,
    )  # fmt: skip
    state = ContactState(
        contact=c,
        enrollments=[e1, e2],
        events=[
            event("c1", "subscribed", T0 - timedelta(days=1)),
            Event("c1", "purchased", T0, (("amount", 12000), ("sku", "A-1")), enrolls=False),
        ],
        pending=[event("c1", "clicked", T0 + timedelta(days=3), message_id="k1")],
        messages=[sent, skipped],
        cursor=T0 + timedelta(hours=2),
        triggers={"vip": TriggerMark(T0, True), "win-back": TriggerMark(None, None)},
        suppressed={"bounced": T0 - timedelta(days=2)},
        cap_times=[T0],
    )
    return state, StepResult(messages=[sent, skipped], changed=[e1, e2], next_due=e1.due_at)


def test_load_save_round_trip_keeps_every_field(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    state, result = full_state()
    store.upsert_contacts([state.contact], born=BORN)
    with store.transaction():
        store.save(state, result)
    again = reopen().load("c1")
    assert again.contact == state.contact
    assert again.enrollments == state.enrollments
    assert again.events == state.events
    assert again.pending == state.pending
    assert again.messages == state.messages
    # The key takes no part in equality (it is derived): check the stored one on its own.
    assert [m.key for m in again.messages] == [m.key for m in state.messages]
    assert again.cursor == state.cursor
    assert again.triggers == state.triggers
    assert again.suppressed == state.suppressed
    assert again.cap_times == state.cap_times
    assert reopen().due_contacts(T0 + timedelta(days=2)) == ["c1"]


def test_loaded_then_saved_state_moves_pending_events_to_processed(
    stores: tuple[Store, Reopen],
) -> None:
    store, reopen = stores
    store.upsert_contacts([contact("c1")], born=BORN)
    store.add_events([event("c1", "subscribed", T0), event("c1", "opened", T0 + timedelta(days=1))])
    with store.transaction():
        state = store.load("c1")
        first = state.pending.pop(0)
        state.events.append(first)
        state.cursor = T0
        store.save(state, StepResult(next_due=T0 + timedelta(days=1)))
    again = reopen().load("c1")
    assert [e.name for e in again.events] == ["subscribed"]
    assert [e.name for e in again.pending] == ["opened"]


def test_a_failed_transaction_leaves_nothing_behind(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    if isinstance(store, MemoryStore):
        pytest.skip("MemoryStore has no rollback (the tests that use it never need one)")
    store.upsert_contacts([contact("c1")], born=BORN)
    with pytest.raises(RuntimeError), store.transaction():
        store.add_events([event("c1", "subscribed", T0)])
        store.upsert_contacts([contact("c2")], born=BORN)
        raise RuntimeError("crash before commit")
    fresh = reopen()
    assert fresh.known_contacts(["c1", "c2"]) == {"c1"}
    assert fresh.load("c1").pending == []


# --- batches (the tick's path) -------------------------------------------------------------


def test_load_many_is_load_for_each_in_the_order_given(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    store.upsert_contacts([contact("c1"), contact("c2", vip=True), contact("c3")], born=BORN)
    store.add_events([event("c2", "clicked", T0), event("c1", "opened", T0)])
    save_messages(store, "c2", msg("k1", cid="c2", subject="Hi", html="<p>x</p>"))
    again = reopen()
    many = again.load_many(["c3", "c1", "c2"])
    assert [s.contact.id for s in many] == ["c3", "c1", "c2"]
    for state in many:
        one = reopen().load(state.contact.id)
        assert (state.contact, state.cursor, state.pending) == (
            one.contact,
            one.cursor,
            one.pending,
        )
        assert [m.key for m in state.messages] == [m.key for m in one.messages]
    assert [m.key for m in many[2].messages] == ["k1"] and many[2].contact.attrs == {"vip": True}
    with pytest.raises(KeyError):
        again.load_many(["c1", "nobody"])


def test_save_many_with_claim_records_attempting_and_returns_only_new_sent(
    stores: tuple[Store, Reopen],
) -> None:
    store, reopen = stores
    store.upsert_contacts([contact("c1"), contact("c2")], born=BORN)
    save_messages(store, "c1", msg("old"))  # decided before (e.g. by an overlapping tick)
    claimed_at = T0 + timedelta(minutes=3)
    with store.transaction():
        s1, s2 = store.load_many(["c1", "c2"])
        skipped = msg("k3", cid="c2", step="bye", status=Status.SKIPPED, reason="late")
        saves = [
            (s1, StepResult(messages=[msg("old"), msg("k1", step="again")])),
            (s2, StepResult(messages=[msg("k2", cid="c2"), skipped])),
        ]
        claimed = store.save_many(saves, claim=claimed_at)
    assert [(m.key, attempt) for m, attempt in claimed] == [("k1", 1), ("k2", 1)]
    rows = {r.message.key: r for r in reopen().ledger()}
    assert {k: r.state for k, r in rows.items()} == {
        "old": Delivery.PLANNED, "k1": Delivery.ATTEMPTING, "k2": Delivery.ATTEMPTING,
        "k3": Delivery.SKIPPED,
    }  # fmt: skip
    assert rows["k1"].attempts == 1 and rows["k1"].next_attempt_at == claimed_at
    # Claimed ones are not claimed again; a dead tick's are found by recovery.
    assert [m.key for m, _ in reopen().claim_deliveries(T0 + timedelta(days=1))] == ["old"]
    assert {m.key for m in reopen().stale_attempts(claimed_at)} == {"k1", "k2"}
    assert reopen().stale_attempts(claimed_at - timedelta(microseconds=1)) == []
    with store.transaction():
        store.mark_sent_many([("k2", None), ("k1", "x:1")], claimed_at)
    assert {r.message.key: r.state for r in reopen().ledger()}["k1"] is Delivery.SENT
    assert [m.key for m in reopen().stale_attempts(None)] == ["old"]  # claimed above


def test_mark_sent_many(stores: tuple[Store, Reopen]) -> None:
    store, reopen = stores
    store.upsert_contacts([contact("c1")], born=BORN)
    save_messages(store, "c1", msg("k1"), msg("k2", step="again"), msg("k3", step="more"))
    store.claim_deliveries(T0)
    with store.transaction():
        store.mark_sent_many([("k1", "outbox:1"), ("k3", None)], T0 + timedelta(minutes=1))
    rows = {r.message.key: r for r in reopen().ledger()}
    assert [rows[k].state for k in ("k1", "k2", "k3")] == [
        Delivery.SENT, Delivery.ATTEMPTING, Delivery.SENT,
    ]  # fmt: skip
    assert rows["k1"].delivered_at == T0 + timedelta(minutes=1)
