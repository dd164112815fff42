"""Report numbers, attribution, A/B test and advice over plain rows (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeyctl.reporting.abtest import two_proportion_p
from journeyctl.reporting.report import EnrollmentRow, EventRow, MessageRow, build_report
from journeyctl.spec.models import ReportThresholds

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
LOOSE = ReportThresholds(min_recipients=1)


def msg(key: str, contact: str, step: str, hours: float, **kw: object) -> MessageRow:
    base: dict[str, object] = {
        "sequence": "welcome",
        "enrollment_id": f"e-{contact}",
        "state": "sent",
    }
    base.update(kw)
    return MessageRow(key, contact, step=step, at=T0 + timedelta(hours=hours), **base)  # type: ignore[arg-type]


def ev(contact: str, name: str, hours: float, **kw: str) -> EventRow:
    return EventRow(contact, name, T0 + timedelta(hours=hours), **kw)


def test_counts_and_rates_per_step() -> None:
    messages = [
        msg("m1", "c1", "hello", 0),
        msg("m2", "c2", "hello", 0),
        msg("m3", "c3", "hello", 0, state="failed"),
        msg("m4", "c4", "hello", 0, state="skipped"),
        msg("m5", "c1", "day2", 48),
    ]
    events = [
        ev("c1", "opened", 1, message_id="m1"),
        ev("c1", "opened", 2, message_id="m1"),  # a second open of the same message counts once
        ev("c1", "clicked", 3, message_id="m1"),
        ev("c2", "unsubscribed", 5),
    ]
    r = build_report(messages, events, [], LOOSE)
    rows = {(s.step, s.variant): s.as_dict() for s in r.steps}
    assert rows[("hello", None)] == {
        "sequence": "welcome", "step": "hello", "variant": None,
        "sent": 3, "delivered": 2, "opened": 1, "clicked": 1, "goals": 0,
        "unsubscribed": 1, "bounced": 0,
        "open_rate": 0.5, "click_rate": 0.5, "goal_rate": 0.0, "unsubscribe_rate": 0.5,
    }  # fmt: skip
    assert rows[("day2", None)]["sent"] == 1


def test_events_without_reference_count_for_the_latest_message_before_them() -> None:
    messages = [
        msg("m1", "c1", "hello", 0),
        msg("m2", "c1", "cart", 10, sequence="cart", enrollment_id="e2"),
        msg("m3", "c1", "day2", 48),
    ]
    events = [
        ev("c1", "opened", 11),  # after cart (10h), before day2 (48h) -> cart
        ev("c1", "clicked", 49, step="hello"),  # names a step -> the latest `hello`
        ev("c9", "opened", 1),  # no message for this contact
        ev("c1", "opened", -1),  # before any message
    ]
    r = build_report(messages, events, [], LOOSE)
    got = {(s.sequence, s.step): (s.opened, s.clicked) for s in r.steps}
    assert got == {
        ("welcome", "hello"): (0, 1),
        ("cart", "cart"): (1, 0),
        ("welcome", "day2"): (0, 0),
    }
    assert r.unattributed == 2


def test_goal_counts_for_the_last_message_of_the_enrollment_before_it() -> None:
    messages = [
        msg("m1", "c1", "hello", 0),
        msg("m2", "c1", "day2", 48),
        msg("m3", "c1", "day4", 96),
    ]
    enr = [EnrollmentRow("e-c1", "c1", "welcome", "goal", T0, T0 + timedelta(hours=60))]
    r = build_report(messages, [], enr, LOOSE)
    assert {s.step: s.goals for s in r.steps} == {"hello": 0, "day2": 1, "day4": 0}


def test_bounce_reduces_delivered_and_since_limits_messages() -> None:
    messages = [msg("m1", "c1", "hello", 0), msg("m2", "c2", "hello", 30)]
    events = [ev("c1", "bounced", 0.1, message_id="m1"), ev("c2", "opened", 31)]
    r = build_report(messages, events, [], LOOSE)
    (s,) = r.steps
    assert (s.sent, s.delivered, s.bounced, s.opened) == (2, 1, 1, 1)
    r = build_report(messages, events, [], LOOSE, since=T0 + timedelta(hours=24))
    (s,) = r.steps
    assert (s.sent, s.delivered, s.opened) == (1, 1, 1)


def test_step_order_follows_the_flow() -> None:
    messages = [msg("m1", "c1", "day2", 0), msg("m2", "c2", "hello", 1)]
    r = build_report(messages, [], [], LOOSE, step_order={"welcome": ["hello", "wait-1", "day2"]})
    assert [s.step for s in r.steps] == ["hello", "day2"]


def test_two_proportion_p_value_matches_a_hand_computation() -> None:
    # p1 = .12, p2 = .09, pooled .105: z = .03 / sqrt(.105*.895*(2/1000)) = 2.1882 -> p = 2(1 - Phi(z)) = .02865
    assert two_proportion_p(120, 1000, 90, 1000) == pytest.approx(0.02865, abs=1e-5)
    assert two_proportion_p(5, 10, 5, 10) == pytest.approx(1.0)
    assert two_proportion_p(0, 0, 1, 2) is None


def _arm_rows(arm: str, n: int, goals: int) -> list[EnrollmentRow]:
    return [
        EnrollmentRow(f"{arm}{i}", f"{arm}c{i}", "win-back", "goal" if i < goals else "completed",
                      T0, T0 + timedelta(days=3), arm)
        for i in range(n)
    ]  # fmt: skip


def test_ab_winner_only_when_significant_and_big_enough() -> None:
    t = ReportThresholds(min_recipients=100, alpha=0.05)
    enr = _arm_rows("a", 1000, 120) + _arm_rows("b", 1000, 90)
    (c,) = build_report([], [], enr, t, goal_sequences={"win-back"}).comparisons
    assert (c.metric, c.winner) == ("goal", "a")
    assert c.p_value == pytest.approx(0.02865, abs=1e-5)
    assert c.lift == pytest.approx((0.12 - 0.09) / 0.09)
    # the same rates with too few recipients: no winner
    small = _arm_rows("a", 60, 12) + _arm_rows("b", 1000, 90)
    (c,) = build_report([], [], small, t, goal_sequences={"win-back"}).comparisons
    assert c.winner is None
    assert c.note == "not enough recipients yet in a (need 100 per arm)"
    # not significant
    close = _arm_rows("a", 1000, 95) + _arm_rows("b", 1000, 90)
    (c,) = build_report([], [], close, t, goal_sequences={"win-back"}).comparisons
    assert c.winner is None and c.note.startswith("no significant difference (p = 0.7")


def test_ab_on_clicks_without_a_goal_and_holdout_arm() -> None:
    enr = _arm_rows("a", 200, 0) + _arm_rows("control", 200, 0)
    messages = [
        msg(f"m{i}", f"ac{i}", "offer", 0, sequence="win-back", enrollment_id=f"a{i}", variant="a")
        for i in range(200)
    ]
    events = [ev(f"ac{i}", "clicked", 1, message_id=f"m{i}") for i in range(40)]
    (c,) = build_report(messages, events, enr, ReportThresholds(), goal_sequences=set()).comparisons
    assert c.metric == "click"
    assert [(a.name, a.n, a.successes) for a in c.arms] == [("a", 200, 40), ("control", 200, 0)]
    assert c.winner == "a"
    assert c.lift is None  # the holdout's rate is 0: no relative lift


def test_advice_follows_the_seed_rules() -> None:
    t = ReportThresholds(min_recipients=10, open_rate_min=0.2, click_rate_min=0.02,
                         unsubscribe_rate_max=0.05)  # fmt: skip
    messages, events = [], []
    # hello: 100 delivered, 15 opens (15%), 1 click (1%); unsubscribes rise 1% -> 3% -> 8%
    for step, unsub, h in (("hello", 1, 0), ("day2", 3, 48), ("day4", 8, 96)):
        for i in range(100):
            messages.append(msg(f"{step}{i}", f"c{i}", step, h))
        events += [
            ev(f"c{i}", "unsubscribed", h + 1, message_id=f"{step}{i}") for i in range(unsub)
        ]
    events += [ev(f"c{i}", "opened", 1, message_id=f"hello{i}") for i in range(15)]
    events += [ev("c50", "clicked", 2, message_id="hello50")]
    events += [ev(f"c{i}", "opened", 49, message_id=f"day2{i}") for i in range(50)]
    events += [ev(f"c{i}", "clicked", 49, message_id=f"day2{i}") for i in range(10)]
    events += [ev(f"c{i}", "opened", 97, message_id=f"day4{i}") for i in range(50)]
    events += [ev(f"c{i}", "clicked", 97, message_id=f"day4{i}") for i in range(10)]
    r = build_report(messages, events, [], t, step_order={"welcome": ["hello", "day2", "day4"]})
    assert [a.message for a in r.advice] == [
        "welcome `hello`: open rate 15.0% is under 20.0% — rework the subject line",
        "welcome `hello`: click rate 1.0% is under 2.0% — rework the call to action",
        "welcome `day4`: unsubscribe rate 8.0% is over 5.0% — check the interval and the tone",
        "welcome: unsubscribes rise step after step (`hello` 1.0% → `day2` 3.0% → `day4` 8.0%)"
        " — check the interval between messages and the tone",
    ]


def test_no_advice_below_min_recipients() -> None:
    messages = [msg("m1", "c1", "hello", 0)]
    assert build_report(messages, [], [], ReportThresholds()).advice == []
