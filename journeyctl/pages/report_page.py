"""The data of `report --format html`: the report's numbers per sequence, step and arm, drawn
as flows with counts, messages per day and rates per step; aggregates only, so a ledger of a
million rows makes a page of a few hundred numbers."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.pages.charts import bars
from journeyctl.pages.flow import DONE, NOTE, START, flow_chart
from journeyctl.pages.texts import TEXTS
from journeyctl.reporting.report import PageCounts, Report, StepStats
from journeyctl.spec.project import Project

_SUMS = ("sent", "delivered", "opened", "clicked", "goals", "unsubscribed", "bounced")


def _span(days: Sequence[str]) -> list[str]:
    if not days:
        return []
    first, last = datetime.fromisoformat(min(days)), datetime.fromisoformat(max(days))
    return [(first + timedelta(days=i)).date().isoformat() for i in range((last - first).days + 1)]


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 2)


def _total(rows: Sequence[StepStats]) -> dict[str, int]:
    return {k: sum(getattr(r, k) for r in rows) for k in _SUMS}


def report_data(
    report: Report,
    page_counts: PageCounts,
    project: Project | None,
    timezone: str,
    lang: str,
    *,
    stories: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """The context of templates/report.html.j2 (see pages.render_page)."""
    t = TEXTS[lang]
    tz = ZoneInfo(timezone)
    per_day = defaultdict(Counter, page_counts.per_day)
    days = _span(list(per_day))
    by_seq: dict[str, list[StepStats]] = defaultdict(list)
    for s in report.steps:
        by_seq[s.sequence].append(s)
    outcomes = defaultdict(Counter, page_counts.outcomes)
    names = sorted(by_seq)
    charts: dict[str, Any] = {
        "per-day": bars(days, {n: [per_day[d][n] for d in days] for n in names}, stacked=True)
    }
    sequences = []
    for name in names:
        rows = by_seq[name]
        total = _total(rows)
        out = outcomes[name]
        flow = None
        if project is not None and name in project.sequences:
            per_step: dict[str, list[StepStats]] = defaultdict(list)
            for r in rows:
                per_step[r.step].append(r)
            counts: dict[str, list[str]] = {
                START: [f"{t['entered']} {sum(out.values()):,}"],
                DONE: [f"{t['completed']} {out['completed']:,}"],
                NOTE: [f"{t['goals']} {out['goal']:,}", f"{t['exited']} {out['exited']:,}"],
            }
            for step, arm_rows in per_step.items():
                n = _total(arm_rows)
                lines = [f"{t['sent']} {n['sent']:,}", f"{t['delivered']} {n['delivered']:,}"]
                if any(r.is_email for r in arm_rows):
                    lines.append(f"{t['opened']} {n['opened']:,}")
                lines.append(f"{t['clicked']} {n['clicked']:,}")
                if n["goals"]:
                    lines.append(f"{t['goals']} {n['goals']:,}")
                if n["unsubscribed"]:
                    lines.append(f"{t['unsubscribed']} {n['unsubscribed']:,}")
                counts[step] = lines
            flow = flow_chart(project.sequences[name], counts)
        labels = [r.step + (f" ({r.variant})" if r.variant else "") for r in rows]
        rates_id, day_id = f"rates-{name}", f"per-day-{name}"
        charts[day_id] = bars(days, {t["sent"]: [per_day[d][name] for d in days]})
        charts[rates_id] = bars(
            labels,
            {
                t["open_rate"]: [_pct(r.open_rate) for r in rows],
                t["click_rate"]: [_pct(r.click_rate) for r in rows],
                t["goal_rate"]: [_pct(r.goal_rate) for r in rows],
                t["unsubscribe_rate"]: [_pct(r.unsubscribe_rate) for r in rows],
            },
            y_title="%",
        )
        sequences.append({
            "id": name,
            "paused": bool(project and name in project.sequences
                           and project.sequences[name].model.paused),
            "kpis": [(t["entered"], f"{sum(out.values()):,}")]
                    + [(t[k], f"{total[k]:,}") for k in _SUMS[:5]],
            "flow": flow,
            "per_day_chart": day_id,
            "rates_chart": rates_id,
            "steps": [s.as_dict() | {"is_email": s.is_email} for s in rows],
            "ab": [c.as_dict() for c in report.comparisons if c.sequence == name],
            "advice": [a.message for a in report.advice if a.sequence == name],
        })  # fmt: skip
    totals = _total(report.steps)
    return {
        "since": report.since.astimezone(tz).isoformat(timespec="minutes")
        if report.since
        else None,
        "period": f"{days[0]} – {days[-1]}" if days else "",
        "overall": [(t[k], f"{totals[k]:,}") for k in _SUMS[:5]],
        "charts": charts,
        "libraries": ("chart", "mermaid") if project is not None else ("chart",),
        "sequences": sequences,
        "advice": [a.message for a in report.advice if not a.sequence],
        "unattributed": report.unattributed,
        "story_items": list(stories),
    }


def report_page(
    report: Report,
    page_counts: PageCounts,
    project: Project | None,
    timezone: str,
    *,
    stories: Sequence[dict[str, str]] = (),
) -> str:
    """The whole page of `report --format html`, in the project's language."""
    from journeyctl.pages.render import render_page
    from journeyctl.pages.texts import language

    lang = language(project.settings if project is not None else None, timezone)
    data = report_data(report, page_counts, project, timezone, lang, stories=stories)
    return render_page("report", data, lang)
