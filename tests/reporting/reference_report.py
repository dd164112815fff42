"""`journeyctl report` as it was before it streamed (issue 19): every ledger row, response
event and enrollment read into lists, then aggregated. Kept, frozen, as the reference the
streamed report must equal byte for byte (tests/reporting/test_report_stream.py); only the
renderers (tables, CSV, the page's template) are shared with the product."""

from __future__ import annotations

import bisect
import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.reporting.abtest import Arm, Comparison, two_proportion_p
from journeyctl.reporting.advice import advise
from journeyctl.reporting.report import (
    EnrollmentRow,
    EventRow,
    MessageRow,
    Report,
    StepStats,
    _ordered,
)
from journeyctl.spec.models import ReportThresholds

_SENT_STATES = ("sent", "planned", "attempting", "retry", "failed")
_RESPONSES = ("opened", "clicked", "unsubscribed", "bounced")


def read_rows(conn: Any) -> tuple[list[MessageRow], list[EventRow], list[EnrollmentRow]]:
    from journeyctl.store.serialize import from_micros, opt_datetime, props_from_json

    messages = [
        MessageRow(
            key=r[0], contact_id=r[1], sequence=r[2], step=r[3], enrollment_id=r[4],
            at=from_micros(r[5]), state=r[6], variant=r[7], is_email=r[8] is not None,
        )
        for r in conn.execute(
            "SELECT key, contact_id, sequence, step, enrollment_id, at, state, variant, subject "
            "FROM ledger ORDER BY id"
        )
    ]  # fmt: skip
    marks = ",".join("?" * len(_RESPONSES))
    events = []
    for cid, name, at, props in conn.execute(
        f"SELECT contact_id, event, at, props FROM events WHERE event IN ({marks}) ORDER BY at, id",
        _RESPONSES,
    ):
        p = dict(props_from_json(props))
        mid, step = p.get("message_id"), p.get("step")
        events.append(
            EventRow(cid, name, from_micros(at), None if mid is None else str(mid),
                     None if step is None else str(step))
        )  # fmt: skip
    enrollments = [
        EnrollmentRow(r[0], r[1], r[2], r[3], from_micros(r[4]), opt_datetime(r[5]), r[6])
        for r in conn.execute(
            "SELECT id, contact_id, sequence, outcome, entered_at, ended_at, variant "
            "FROM enrollments ORDER BY entered_at, id"
        )
    ]
    return messages, events, enrollments


class _Attributor:
    def __init__(self, messages: list[MessageRow]) -> None:
        self.by_key = {m.key: m for m in messages}
        self.by_contact: dict[str, list[MessageRow]] = defaultdict(list)
        for m in sorted(messages, key=lambda m: (m.at, m.key)):
            self.by_contact[m.contact_id].append(m)
        self.times = {c: [m.at for m in ms] for c, ms in self.by_contact.items()}

    def find(self, ev: EventRow) -> MessageRow | None:
        if ev.message_id is not None:
            return self.by_key.get(ev.message_id)
        mine = self.by_contact.get(ev.contact_id, [])
        i = bisect.bisect_right(self.times.get(ev.contact_id, []), ev.at)
        for m in reversed(mine[:i]):
            if ev.step is None or m.step == ev.step:
                return m
        return None


def compare_arms(
    messages: list[MessageRow],
    enrollments: list[EnrollmentRow],
    responded: dict[str, set[str]],
    thresholds: ReportThresholds,
    goal_sequences: set[str],
    since: datetime | None,
) -> list[Comparison]:
    clicked_enrollments = {
        m.enrollment_id for m in messages if "clicked" in responded.get(m.key, ())
    }
    arms: dict[str, dict[str, list[EnrollmentRow]]] = defaultdict(lambda: defaultdict(list))
    for e in enrollments:
        if e.variant is not None and (since is None or e.entered_at >= since):
            arms[e.sequence][e.variant].append(e)
    out = []
    for seq in sorted(arms):
        metric = "goal" if seq in goal_sequences else "click"
        c = Comparison(seq, metric)
        for name in sorted(arms[seq]):
            rows = arms[seq][name]
            wins = sum(
                (e.outcome == "goal") if metric == "goal" else (e.id in clicked_enrollments)
                for e in rows
            )
            c.arms.append(Arm(name, len(rows), wins))
        if len(c.arms) < 2:
            c.note = "only one arm has enrollments"
            out.append(c)
            continue
        best, second = sorted(c.arms, key=lambda a: (-a.rate, a.name))[:2]
        c.p_value = two_proportion_p(best.successes, best.n, second.successes, second.n)
        c.lift = (best.rate - second.rate) / second.rate if second.rate else None
        small = [a.name for a in c.arms if a.n < thresholds.min_recipients]
        if small:
            c.note = (
                f"not enough recipients yet in {', '.join(small)} "
                f"(need {thresholds.min_recipients} per arm)"
            )
        elif c.p_value is not None and c.p_value < thresholds.alpha and best.rate > second.rate:
            c.winner = best.name
            c.note = f"{best.name} wins (p = {c.p_value:.3g} < {thresholds.alpha})"
        else:
            c.note = f"no significant difference (p = {c.p_value:.3g}, alpha {thresholds.alpha})"
        out.append(c)
    return out


def build_report(
    messages: list[MessageRow],
    events: list[EventRow],
    enrollments: list[EnrollmentRow],
    thresholds: ReportThresholds,
    *,
    since: datetime | None = None,
    step_order: dict[str, list[str]] | None = None,
    goal_sequences: set[str] | None = None,
) -> Report:
    sent = [m for m in messages if m.state in _SENT_STATES]
    attributor = _Attributor(sent)
    included = [m for m in sent if since is None or m.at >= since]
    stats: dict[tuple[str, str, str | None], StepStats] = {}

    def row(m: MessageRow) -> StepStats:
        key = (m.sequence, m.step, m.variant)
        s = stats.get(key)
        if s is None:
            s = stats[key] = StepStats(m.sequence, m.step, m.variant, is_email=m.is_email)
        return s

    for m in included:
        s = row(m)
        s.sent += 1
        s.delivered += m.state == "sent"
        s.first_at = m.at if s.first_at is None else min(s.first_at, m.at)
    keep = {m.key for m in included}
    responded: dict[str, set[str]] = defaultdict(set)
    unattributed = 0
    for ev in sorted(events, key=lambda e: e.at):
        if ev.event not in _RESPONSES:
            continue
        hit = attributor.find(ev)
        if hit is None:
            unattributed += 1
            continue
        m = hit
        if m.key not in keep or ev.event in responded[m.key]:
            continue
        responded[m.key].add(ev.event)
        s = row(m)
        if ev.event == "opened":
            s.opened += 1
        elif ev.event == "clicked":
            s.clicked += 1
        elif ev.event == "unsubscribed":
            s.unsubscribed += 1
        elif ev.event == "bounced":
            s.bounced += 1
            s.delivered -= m.state == "sent"
    by_enrollment: dict[str, list[MessageRow]] = defaultdict(list)
    for m in included:
        by_enrollment[m.enrollment_id].append(m)
    for e in enrollments:
        if e.outcome != "goal" or e.ended_at is None:
            continue
        before = [m for m in by_enrollment.get(e.id, []) if m.at <= e.ended_at]
        if before:
            row(max(before, key=lambda m: (m.at, m.key))).goals += 1
    report = Report(since, thresholds, unattributed=unattributed)
    report.steps = _ordered(list(stats.values()), step_order or {})
    if goal_sequences is None:
        goal_sequences = {e.sequence for e in enrollments if e.outcome == "goal"}
    report.comparisons = compare_arms(
        included, enrollments, responded, thresholds, goal_sequences, since
    )
    report.advice = advise(report.steps, thresholds, frozenset(ev.event for ev in events))
    return report


def daily_sent(
    messages: list[MessageRow], tz: ZoneInfo, since: datetime | None
) -> dict[str, Counter[str]]:
    from journeyctl.pages.days import LocalDays

    days: dict[str, Counter[str]] = defaultdict(Counter)
    local_day = LocalDays(tz)
    for m in messages:
        if m.state in _SENT_STATES and (since is None or m.at >= since):
            days[local_day(m.at)][m.sequence] += 1
    return days


def story_contacts(messages: list[MessageRow], limit: int = 6) -> list[str]:
    seen: set[str] = set()
    picked: dict[str, None] = {}
    for m in messages:
        if m.sequence not in seen and m.state in _SENT_STATES:
            seen.add(m.sequence)
            picked.setdefault(m.contact_id)
            if len(picked) >= limit:
                break
    return list(picked)


def reference_report(project_dir: Path, db: str, since: str | None, fmt: str, out: Path) -> None:
    """The old command's body: `journeyctl report PROJECT --db DB [--since T] --format FMT
    --out OUT` (journey.yaml without errors)."""
    from journeyctl.cli.db_render import open_existing
    from journeyctl.cli.options import csv_bom
    from journeyctl.cli.output import Output
    from journeyctl.cli.report import render_table, to_csv
    from journeyctl.data.instants import parse_instant
    from journeyctl.spec.loader import load_project

    project = load_project(project_dir) if project_dir.is_dir() else None
    settings = project.settings if project is not None else None
    store = open_existing(db)
    try:
        tz = (settings.timezone if settings else None) or store.get_meta("timezone") or "UTC"
        messages, events, enrollments = read_rows(store.conn)
    finally:
        store.close()
    thresholds = settings.report if settings else ReportThresholds()
    order = goals = None
    if project is not None and project.sequences:
        order = {k: list(s.flow.nodes) for k, s in project.sequences.items()}
        goals = {k for k, s in project.sequences.items() if s.model.goal is not None}
    t0 = parse_instant(since, tz, option="--since") if since else None
    result = build_report(
        messages, events, enrollments, thresholds, since=t0, step_order=order, goal_sequences=goals
    )
    output = Output.from_environment()
    if fmt == "html":
        output.emit(_html_page(result, messages, enrollments, project, tz, db), out)
    elif fmt == "json":
        output.emit(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), out)
    elif fmt == "csv":
        output.emit(to_csv(result), out, bom=csv_bom(None, out))
    else:
        with output.writing(out) as o:
            render_table(o, result)


def _html_page(
    result: Report,
    messages: list[MessageRow],
    enrollments: list[EnrollmentRow],
    project: Any,
    tz: str,
    db: str,
) -> str:
    from journeyctl.errors import UsageError
    from journeyctl.pages.render import render_page
    from journeyctl.pages.report_page import report_data
    from journeyctl.pages.texts import language
    from journeyctl.reporting.report import PageCounts
    from journeyctl.reporting.story import story_text

    stories = []
    if project is not None:
        from journeyctl.cli.explain_db import explain_from_db
        from journeyctl.store.open import open_store

        store = open_store(db)
        try:
            for cid in story_contacts(messages):
                try:
                    doc = explain_from_db(project, db, cid, store)
                except UsageError:
                    continue
                stories.append({"contact_id": cid, "text": story_text(doc)})
        finally:
            store.close()
    # The page's numbers from the rows, as the page computed them from the lists.
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for e in enrollments:
        if result.since is None or e.entered_at >= result.since:
            outcomes[e.sequence][e.outcome] += 1
    counts = PageCounts(daily_sent(messages, ZoneInfo(tz), result.since), outcomes, [])
    lang = language(project.settings if project is not None else None, tz)
    data = report_data(result, counts, project, tz, lang, stories=stories)
    return render_page("report", data, lang)
