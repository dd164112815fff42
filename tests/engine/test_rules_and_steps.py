"""One test per scheduling rule and per step kind, through the real engine (simulate)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from journeyctl.engine.advance import Engine
from journeyctl.engine.model import ContactState, Message, Outcome, Status
from journeyctl.simulate.replay import Simulation, simulate
from journeyctl.spec.project import Project
from tests.builders import KST, NYC, at, contact, event, make_project

JOURNEY = """
timezone: Asia/Seoul
quiet_hours: {start: "21:00", end: "08:00"}
frequency_cap: {max: 2, per: 1d}
compliance: [kr]
contacts:
  fields: {night_consent: bool, birthday: date, vip: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
"""

START = at("2026-11-01 00:00")


def sim(project: Project, contacts: list, events: list, days: int = 14) -> Simulation:
    return simulate(project, contacts, events, START, START + timedelta(days=days))


def sent(s: Simulation) -> list[tuple[str, str, str]]:
    return [
        (m.contact_id, m.step, m.at.astimezone(KST).strftime("%m-%d %H:%M"))
        for m in sorted(s.messages, key=lambda m: (m.at, m.contact_id, m.step))
        if m.status is Status.SENT
    ]


def only(s: Simulation, step: str) -> Message:
    (m,) = [m for m in s.messages if m.step == step]
    return m


def seq(*steps: str, head: str = "trigger: {event: subscribed}") -> str:
    return head + "\nsteps:\n" + "\n".join(steps)


HELLO = """  - send: hello
    channel: email
    subject: "(광고) hi"
    body: "hi"
"""


def test_quiet_hours_defer_marketing_to_the_end_of_quiet_hours(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO)}, JOURNEY)
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-01 22:10"))])
    m = only(s, "hello")
    assert m.at == at("2026-11-02 08:00")
    assert (m.deferred_by, m.deferred_from) == ("quiet_hours", at("2026-11-01 22:10"))


def test_transactional_skips_quiet_hours_and_cap(tmp_path: Path) -> None:
    head = "trigger: {event: subscribed}\nad: false\ntransactional: true"
    p = make_project(tmp_path, {"t": seq(HELLO, head=head)}, JOURNEY)
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-01 22:10"))])
    assert only(s, "hello").at == at("2026-11-01 22:10")


def test_quiet_hours_use_the_contacts_timezone(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO)}, JOURNEY)
    # 12:00 KST is 22:00 in New York (EST): quiet there.
    s = sim(
        p,
        [contact("c1", tz="America/New_York")],
        [event("c1", "subscribed", at("2026-11-01 12:00"))],
    )
    assert only(s, "hello").at == at("2026-11-01 08:00", NYC)  # EST: DST ended at 02:00


def test_unknown_timezone_falls_back_to_project_quiet_hours(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO)}, JOURNEY)
    s = sim(p, [contact("c1", tz="Not/AZone")], [event("c1", "subscribed", at("2026-11-01 23:00"))])
    assert only(s, "hello").at == at("2026-11-02 08:00")


def test_frequency_cap_defers_the_third_message_until_a_slot_frees(tmp_path: Path) -> None:
    seqs = {name: seq(HELLO.replace("hello", f"m-{name}")) for name in ("a", "b", "c")}
    p = make_project(tmp_path, seqs, JOURNEY)
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-01 10:00"))])
    times = {m.step: m for m in s.messages}
    assert times["m-a"].at == times["m-b"].at == at("2026-11-01 10:00")
    assert times["m-c"].at == at("2026-11-02 10:00")
    assert times["m-c"].deferred_by == "frequency_cap"


def test_on_cap_skip_drops_the_message(tmp_path: Path) -> None:
    seqs = {name: seq(HELLO.replace("hello", f"m-{name}")) for name in ("a", "b")}
    seqs["c"] = seq(
        HELLO.replace("hello", "m-c"), head="trigger: {event: subscribed}\non_cap: skip"
    )
    p = make_project(tmp_path, seqs, JOURNEY)
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-01 10:00"))])
    m = only(s, "m-c")
    assert (m.status, m.reason) == (Status.SKIPPED, "frequency_cap")


SMS = """  - send: promo
    channel: sms
    body: "(광고) sale 무료수신거부 080"
"""


def test_kr_night_rule_defers_ad_sms_without_night_consent(tmp_path: Path) -> None:
    journey = JOURNEY.replace('quiet_hours: {start: "21:00", end: "08:00"}\n', "")
    p = make_project(tmp_path, {"s": seq(SMS)}, journey)
    ev = [event(c, "subscribed", at("2026-11-01 22:00")) for c in ("no", "yes")]
    s = sim(p, [contact("no", night_consent=False), contact("yes", night_consent=True)], ev)
    by = {m.contact_id: m for m in s.messages}
    assert (by["no"].at, by["no"].deferred_by) == (at("2026-11-02 08:00"), "night_consent")
    assert by["yes"].at == at("2026-11-01 22:00")


def test_kr_night_rule_exempts_email(tmp_path: Path) -> None:
    journey = JOURNEY.replace('quiet_hours: {start: "21:00", end: "08:00"}\n', "")
    p = make_project(tmp_path, {"w": seq(HELLO)}, journey)
    s = sim(
        p, [contact("c1", night_consent=False)], [event("c1", "subscribed", at("2026-11-01 22:00"))]
    )
    assert only(s, "hello").at == at("2026-11-01 22:00")


def test_suppression_reasons(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO, head="trigger: {event: cart_abandoned}")}, JOURNEY)
    contacts = [contact("unsub"), contact("noaddr", email=None), contact("bounced")]
    ev = [
        event("unsub", "unsubscribed", at("2026-11-01 09:00")),
        event("bounced", "bounced", at("2026-11-01 09:00")),
        *(event(c.id, "cart_abandoned", at("2026-11-01 10:00")) for c in contacts),
    ]
    s = sim(p, contacts, ev)
    assert {m.contact_id: (m.status, m.reason) for m in s.messages} == {
        "unsub": (Status.SKIPPED, "unsubscribed"),
        "noaddr": (Status.SKIPPED, "no_address"),
        "bounced": (Status.SKIPPED, "bounced"),
    }


def test_hard_bounce_blocks_transactional_but_unsubscribe_does_not(tmp_path: Path) -> None:
    head = "trigger: {event: subscribed}\nad: false\ntransactional: true"
    p = make_project(tmp_path, {"t": seq(HELLO, head=head)}, JOURNEY)
    ev = [
        event("u", "unsubscribed", at("2026-11-01 09:00")),
        event("b", "bounced", at("2026-11-01 09:00")),
        event("u", "subscribed", at("2026-11-01 10:00")),
        event("b", "subscribed", at("2026-11-01 10:00")),
    ]
    s = sim(p, [contact("u"), contact("b")], ev)
    assert {m.contact_id: m.status for m in s.messages} == {"u": Status.SENT, "b": Status.SKIPPED}


def test_send_window_defers_to_next_opening_on_an_allowed_day(tmp_path: Path) -> None:
    step = HELLO + '    window: {start: "10:00", end: "12:00", days: [mon, tue, wed, thu, fri]}\n'
    p = make_project(tmp_path, {"w": seq(step)}, JOURNEY)
    # 2026-11-01 is a Sunday.
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-01 15:00"))])
    m = only(s, "hello")
    assert (m.at, m.deferred_by) == (at("2026-11-02 10:00"), "window")


def test_waits_count_from_the_previous_scheduled_time(tmp_path: Path) -> None:
    steps = [HELLO, "  - wait: 2d", HELLO.replace("hello", "second"), "  - wait: 3h",
             HELLO.replace("hello", "third")]  # fmt: skip
    p = make_project(tmp_path, {"w": seq(*steps)}, JOURNEY)
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-01 22:10"))])
    # hello deferred to 08:00; +2d from the deferred time, not from 22:10.
    assert sent(s) == [("c1", "hello", "11-02 08:00"), ("c1", "second", "11-04 08:00"),
                       ("c1", "third", "11-04 11:00")]  # fmt: skip


def test_wait_until_next_weekday_time(tmp_path: Path) -> None:
    steps = [HELLO, '  - wait: {until: "10:00", days: [fri]}', HELLO.replace("hello", "fri")]
    p = make_project(tmp_path, {"w": seq(*steps)}, JOURNEY)
    s = sim(p, [contact("c1")], [event("c1", "subscribed", at("2026-11-02 12:00"))])
    assert sent(s)[-1] == ("c1", "fri", "11-06 10:00")


WAIT_FOR = """  - wait_for: {event: purchased, timeout: 3d}
    on_event:
      - send: thanks
        channel: email
        subject: "(광고) t"
        body: t
    on_timeout:
      - send: nudge
        channel: email
        subject: "(광고) n"
        body: n
  - send: after
    channel: email
    subject: "(광고) a"
    body: a
"""


def test_wait_for_event_and_timeout(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO, WAIT_FOR)}, JOURNEY)
    ev = [
        event("buy", "subscribed", at("2026-11-01 10:00")),
        event("buy", "purchased", at("2026-11-02 15:30")),
        event("idle", "subscribed", at("2026-11-01 10:00")),
    ]
    s = sim(p, [contact("buy"), contact("idle")], ev)
    assert sent(s) == [
        ("buy", "hello", "11-01 10:00"), ("idle", "hello", "11-01 10:00"),
        ("buy", "after", "11-02 15:30"), ("buy", "thanks", "11-02 15:30"),
        ("idle", "after", "11-04 10:00"), ("idle", "nudge", "11-04 10:00"),
    ]  # fmt: skip


def test_wait_for_ignores_events_before_entering_the_step(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO, "  - wait: 1d", WAIT_FOR)}, JOURNEY)
    ev = [
        event("c", "subscribed", at("2026-11-01 10:00")),
        event("c", "purchased", at("2026-11-01 12:00")),
    ]
    s = sim(p, [contact("c")], ev)
    assert "nudge" in {m.step for m in s.messages}


BRANCH = """  - wait: 1d
  - branch:
      if: "clicked('hello')"
      then:
        - send: clicker
          channel: email
          subject: "(광고) c"
          body: c
      else:
        - send: other
          channel: email
          subject: "(광고) o"
          body: o
"""


def test_branch_on_clicks_attributed_to_the_latest_message(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO, BRANCH)}, JOURNEY)
    ev = [
        event("a", "subscribed", at("2026-11-01 10:00")),
        event("a", "clicked", at("2026-11-01 11:00")),  # no reference: the latest message
        event("b", "subscribed", at("2026-11-01 10:00")),
        event("b", "clicked", at("2026-11-01 09:00")),  # before any message: counts for none
    ]
    s = sim(p, [contact("a"), contact("b")], ev)
    assert {(c, st) for c, st, _ in sent(s) if st != "hello"} == {("a", "clicker"), ("b", "other")}


SPLIT = """  - split:
      a: {weight: 50, steps: [{send: offer-a, channel: email, subject: "(광고) A", body: a}]}
      b: {weight: 30, steps: [{send: offer-b, channel: email, subject: "(광고) B", body: b}]}
      control: {weight: 20}
"""


def test_split_is_deterministic_weighted_and_has_a_holdout(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(SPLIT)}, JOURNEY)
    contacts = [contact(f"c{i}") for i in range(600)]
    ev = [event(c.id, "subscribed", at("2026-11-01 10:00")) for c in contacts]
    s1, s2 = sim(p, contacts, ev, days=1), sim(p, contacts, ev, days=1)
    assert [(m.contact_id, m.step, m.variant) for m in s1.messages] == [
        (m.contact_id, m.step, m.variant) for m in s2.messages
    ]
    counts = {"offer-a": 0, "offer-b": 0}
    for m in s1.messages:
        counts[m.step] += 1
        assert m.variant == m.step[-1]
    held_out = 600 - sum(counts.values())
    assert 250 <= counts["offer-a"] <= 350 and 130 <= counts["offer-b"] <= 230
    assert 80 <= held_out <= 160


def test_exit_on_and_goal_within(tmp_path: Path) -> None:
    head = "trigger: {event: subscribed}\nexit_on: [unsubscribed]\ngoal: {event: purchased, within: 2d}"
    p = make_project(
        tmp_path,
        {"w": seq(HELLO, "  - wait: 5d", HELLO.replace("hello", "later"), head=head)},
        JOURNEY,
    )
    ev = [event(c, "subscribed", at("2026-11-01 10:00")) for c in ("x", "g", "late")]
    ev += [event("x", "unsubscribed", at("2026-11-02 10:00")), event("g", "purchased", at("2026-11-02 10:00")),
           event("late", "purchased", at("2026-11-04 10:00"))]  # fmt: skip
    s = sim(p, [contact("x"), contact("g"), contact("late")], ev)
    out = {e.contact_id: (e.outcome, e.reason) for e in s.enrollments}
    assert out == {"x": (Outcome.EXITED, "unsubscribed"), "g": (Outcome.GOAL, "purchased"),
                   "late": (Outcome.COMPLETED, None)}  # fmt: skip
    assert {m.contact_id for m in s.messages if m.step == "later"} == {"late"}


def test_exit_step_ends_the_enrollment(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO, "  - exit: done")}, JOURNEY)
    s = sim(p, [contact("c")], [event("c", "subscribed", at("2026-11-01 10:00"))])
    assert [(e.outcome, e.reason) for e in s.enrollments] == [(Outcome.EXITED, "done")]


def test_reentry_never_always_and_gap(tmp_path: Path) -> None:
    seqs = {
        "never": seq(HELLO.replace("hello", "n")),
        "always": seq(
            HELLO.replace("hello", "a"), head="trigger: {event: subscribed}\nreentry: always"
        ),
        "gap": seq(HELLO.replace("hello", "g"), head="trigger: {event: subscribed}\nreentry: 3d"),
    }
    journey = JOURNEY.replace("frequency_cap: {max: 2, per: 1d}\n", "")
    p = make_project(tmp_path, seqs, journey)
    ev = [event("c", "subscribed", at(f"2026-11-0{d} 10:00")) for d in (1, 2, 5)]
    s = sim(p, [contact("c")], ev)
    counts = {k: sum(1 for m in s.messages if m.step == k) for k in ("n", "a", "g")}
    assert counts == {"n": 1, "a": 3, "g": 2}


def test_events_before_start_are_history_not_triggers(tmp_path: Path) -> None:
    vip = seq(
        HELLO.replace("hello", "vip"),
        head="trigger: {event: purchased, where: \"event_count('purchased') >= 2\"}",
    )
    p = make_project(tmp_path, {"vip": vip}, JOURNEY)
    ev = [event("c", "purchased", at("2026-10-20 10:00")), event("c", "purchased", at("2026-11-03 10:00")),
          event("d", "purchased", at("2026-10-20 10:00"))]  # fmt: skip
    s = sim(p, [contact("c"), contact("d")], ev)
    assert sent(s) == [("c", "vip", "11-03 10:00")]


def test_segment_enrolls_on_the_edge_at_check_times(tmp_path: Path) -> None:
    head = 'trigger: {segment: "contact.vip", check: "0 9 * * *"}\nreentry: always'
    p = make_project(tmp_path, {"seg": seq(HELLO, head=head)}, JOURNEY)
    s = sim(p, [contact("v", vip=True), contact("n", vip=False)], [], days=3)
    # true at every daily check, but enrolled once: only when it *becomes* true
    assert sent(s) == [("v", "hello", "11-01 09:00")]


def test_date_trigger_anniversaries_feb29_and_offset(tmp_path: Path) -> None:
    from datetime import date

    head = 'trigger: {date: {field: birthday, every: year, at: "10:00", offset: -1d}}'
    p = make_project(tmp_path, {"bday": seq(HELLO, head=head)}, JOURNEY)
    start = at("2027-02-01 00:00")
    cs = [contact("leap", birthday=date(2000, 2, 29)), contact("nov", birthday=date(1990, 2, 10))]
    s = simulate(p, cs, [], start, start + timedelta(days=30))
    assert sorted((m.contact_id, m.at) for m in s.messages) == [
        ("leap", at("2027-02-27 10:00")),  # 28 Feb in a non-leap year, minus 1 day
        ("nov", at("2027-02-09 10:00")),
    ]


def test_date_trigger_every_2y_from_the_base_date(tmp_path: Path) -> None:
    from datetime import date

    head = (
        'trigger: {date: {field: birthday, every: 2y, at: "09:00"}}\nad: false\ntransactional: true'
    )
    p = make_project(tmp_path, {"renew": seq(HELLO, head=head)}, JOURNEY)
    start = at("2026-01-01 00:00")
    cs = [contact("odd", birthday=date(2023, 6, 1)), contact("even", birthday=date(2024, 6, 1))]
    s = simulate(p, cs, [], start, start + timedelta(days=365))
    assert [(m.contact_id, m.at) for m in s.messages] == [("even", at("2026-06-01 09:00"))]


def test_late_policy_skips_stale_marketing_but_not_transactional(tmp_path: Path) -> None:
    head_t = "trigger: {event: subscribed}\nad: false\ntransactional: true"
    p = make_project(
        tmp_path, {"m": seq(HELLO), "t": seq(HELLO.replace("hello", "tx"), head=head_t)}, JOURNEY
    )
    engine = Engine(p)
    state = ContactState(contact=contact("c"), cursor=at("2026-11-01 00:00"))
    state.pending.append(event("c", "subscribed", at("2026-11-01 10:00")))
    result = engine.advance(state, at("2026-11-03 10:00"))  # cron was down for two days
    assert {(m.step, m.status, m.reason) for m in result.messages} == {
        ("hello", Status.SKIPPED, "late"),
        ("tx", Status.SENT, None),
    }


def test_live_edit_step_removed_and_migrate(tmp_path: Path) -> None:
    steps = [HELLO, "  - wait: 2d", HELLO.replace("hello", "second")]
    p1 = make_project(tmp_path / "v1", {"w": seq(*steps)}, JOURNEY)
    state = ContactState(contact=contact("c"), cursor=at("2026-11-01 00:00"))
    state.pending.append(event("c", "subscribed", at("2026-11-01 10:00")))
    Engine(p1).advance(state, at("2026-11-01 12:00"))
    (enr,) = state.enrollments
    assert enr.position == "second"
    renamed = [HELLO, "  - wait: 2d", HELLO.replace("hello", "second-v2")]
    p2 = make_project(tmp_path / "v2", {"w": seq(*renamed)}, JOURNEY)
    import copy

    removed_state = copy.deepcopy(state)
    Engine(p2).advance(removed_state, at("2026-11-05 00:00"))
    assert (removed_state.enrollments[0].outcome, removed_state.enrollments[0].reason) == (
        Outcome.EXITED, "step_removed")  # fmt: skip
    p3 = make_project(
        tmp_path / "v3",
        {"w": seq(*renamed, head="trigger: {event: subscribed}\nmigrate: {second: second-v2}")},
        JOURNEY,
    )
    result = Engine(p3).advance(state, at("2026-11-05 00:00"))
    assert [m.step for m in result.messages] == ["second-v2"]
    assert state.enrollments[0].version == p3.sequences["w"].version


def test_advancing_in_many_small_ticks_equals_one_big_one(tmp_path: Path) -> None:
    steps = [HELLO, "  - wait: 1d", BRANCH.replace("  - wait: 1d\n", ""), "  - wait: 2h", WAIT_FOR]
    p = make_project(tmp_path, {"w": seq(*steps)}, JOURNEY)
    ev = [event("c", "subscribed", at("2026-11-01 22:00")), event("c", "clicked", at("2026-11-02 09:00")),
          event("c", "purchased", at("2026-11-03 20:00"))]  # fmt: skip

    def run(step: timedelta) -> list[tuple[str, object]]:
        engine = Engine(p)
        state = ContactState(contact=contact("c"), cursor=START - timedelta(microseconds=1))
        state.pending.extend(ev)
        now, end, out = START, START + timedelta(days=7), []
        while True:
            out += [(m.step, m.at) for m in engine.advance(state, now).messages]
            if now >= end:
                return out
            now = min(now + step, end)

    # Ticks up to a day apart stay within the late policy (1d), so the cadence must not matter.
    daily = run(timedelta(days=1))
    assert [s for s, _ in daily] == ["hello", "clicker", "thanks", "after"]
    assert run(timedelta(minutes=7)) == daily and run(timedelta(hours=3)) == daily


def test_a_week_long_outage_skips_stale_marketing_as_late(tmp_path: Path) -> None:
    p = make_project(tmp_path, {"w": seq(HELLO)}, JOURNEY)
    state = ContactState(contact=contact("c"), cursor=START)
    state.pending.append(event("c", "subscribed", at("2026-11-01 10:00")))
    (m,) = Engine(p).advance(state, START + timedelta(days=7)).messages
    assert (m.status, m.reason, m.at) == (Status.SKIPPED, "late", at("2026-11-01 10:00"))


def test_goal_wins_over_exit_on_for_the_same_event(tmp_path: Path) -> None:
    head = "trigger: {event: subscribed}\nexit_on: [purchased]\ngoal: {event: purchased}"
    p = make_project(
        tmp_path, {"w": seq(HELLO, "  - wait: 5d", HELLO.replace("hello", "x"), head=head)}, JOURNEY
    )
    ev = [
        event("c", "subscribed", at("2026-11-01 10:00")),
        event("c", "purchased", at("2026-11-02 10:00")),
    ]
    s = sim(p, [contact("c")], ev)
    assert [(e.outcome, e.reason) for e in s.enrollments] == [(Outcome.GOAL, "purchased")]


def test_an_expression_that_breaks_on_one_contact_is_false_and_explained(tmp_path: Path) -> None:
    journey = JOURNEY.replace("vip: bool}", "vip: bool, orders: int}")
    head = 'trigger: {event: subscribed}\naudience: "contact.orders > 1"'
    p = make_project(tmp_path, {"w": seq(HELLO, head=head)}, journey)
    ev = [event(c, "subscribed", at("2026-11-01 10:00")) for c in ("empty", "two")]
    s = simulate(p, [contact("empty", orders=None), contact("two", orders=2)], ev, START,
                 START + timedelta(days=1), trace_contacts={"empty"})  # fmt: skip
    assert [m.contact_id for m in s.messages] == ["two"]
    kinds = [d.kind for d in s.traces["empty"]]
    assert "expression-error" in kinds and "not-enrolled" in kinds
