"""Cron fire times come from a shared timeline (engine.triggers): the same answers as asking
APScheduler each time, whatever order contacts ask in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl.engine import triggers
from journeyctl.engine.triggers import cron_timeline

T0 = datetime(2026, 3, 1, tzinfo=UTC)
EXPRS = ["0 9 * * *", "30 * * * *", "0 10 * * 1-5", "0 2 * * 0", "15 1 1 * *"]
ZONES = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "Pacific/Apia"]


def direct(expr: str, tz: str, t: datetime) -> datetime | None:
    fire = CronTrigger.from_crontab(expr, timezone=ZoneInfo(tz)).get_next_fire_time(
        None, t + timedelta(microseconds=1)
    )
    return None if fire is None else fire.astimezone(UTC)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(EXPRS),
    st.sampled_from(ZONES),
    st.lists(st.integers(-60 * 24 * 400, 60 * 24 * 400), min_size=1, max_size=30),
)
def test_timeline_answers_like_apscheduler(expr: str, tz: str, minutes: list[int]) -> None:
    triggers.cron_timeline.cache_clear()  # a fresh timeline, then questions in any order
    for m in minutes:
        for t in (T0 + timedelta(minutes=m), T0 + timedelta(minutes=m, microseconds=-1)):
            assert cron_timeline(expr, tz).after(t) == direct(expr, tz, t), (expr, tz, t)


def test_a_fire_time_itself_is_not_after_itself() -> None:
    triggers.cron_timeline.cache_clear()
    nine = cron_timeline("0 9 * * *", "Asia/Seoul").after(T0)
    assert nine is not None
    assert cron_timeline("0 9 * * *", "Asia/Seoul").after(nine) == nine + timedelta(days=1)
    assert cron_timeline("0 9 * * *", "Asia/Seoul").after(nine - timedelta(microseconds=1)) == nine


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(EXPRS),
    st.sampled_from(ZONES),
    st.lists(st.integers(-3, 40), min_size=1, max_size=40),
)
def test_walking_forward_and_back_answers_like_apscheduler(
    expr: str, tz: str, steps: list[int]
) -> None:
    """A contact asks again from a later instant (its cursor at a fire, or just before the
    next, or a horizon far ahead), then another starts over: every answer as APScheduler's."""
    triggers.cron_timeline.cache_clear()
    timeline = cron_timeline(expr, tz)
    t = T0
    for hours in steps:
        t += timedelta(hours=hours)
        fire = timeline.after(t)
        assert fire == direct(expr, tz, t), (expr, tz, t)
        assert fire is not None
        for u in (fire, fire - timedelta(microseconds=1), fire + timedelta(microseconds=1)):
            assert timeline.after(u) == direct(expr, tz, u), (expr, tz, u)
