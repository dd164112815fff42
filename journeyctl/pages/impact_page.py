"""The page of `diff --base REF --contacts F --format html`: a change's impact, each changed
sequence's flow before and after side by side with its numbers at the steps, sent messages per
step before and after as a chart, and the per-step table (added, removed, moved, contacts,
timing shift). Built from the aggregates of review.impact, never from every message."""

from __future__ import annotations

from typing import Any, Final

from journeyctl.pages import charts
from journeyctl.pages.flow import flow_chart
from journeyctl.review.impact import Counts, Impact, SequenceImpact
from journeyctl.review.impact_render import describe_shift, shift_text
from journeyctl.review.semantic_diff import ProjectDiff
from journeyctl.spec.project import Project

# This page's own labels (the shared ones come from pages.texts).
IMPACT_TEXTS: Final[dict[str, dict[str, str]]] = {
    "ko": {
        "title": "변경의 영향",
        "same_data": "두 버전을 같은 데이터로 시뮬레이션",
        "against": "비교 기준",
        "before": "변경 전",
        "after": "변경 후",
        "added": "추가",
        "removed": "삭제",
        "moved": "시각 변경",
        "contacts_affected": "영향받는 고객",
        "sent_before_after": "발송 (전 → 후)",
        "shift": "시각 변화 (중앙값 / 최대)",
        "median_shift": "시각 변화 중앙값",
        "no_change": "시뮬레이션 기간의 메시지는 바뀌지 않습니다.",
        "file_changes": "파일의 변경",
        "per_step": "단계별 발송",
        "new_step": "새 단계",
        "removed_step": "삭제된 단계",
        "new_sequence": "새 시퀀스",
        "removed_sequence": "삭제된 시퀀스",
        "unchanged": "메시지가 바뀌지 않은 시퀀스",
        "moved_note": "시각 변경: 같은 고객이 같은 단계의 메시지를 다른 시각에 받음. "
        "시각 변화: 변경 후 시각 − 변경 전 시각.",
    },
    "en": {
        "title": "Impact of the change",
        "same_data": "both versions simulated on the same data",
        "against": "against",
        "before": "before",
        "after": "after",
        "added": "added",
        "removed": "removed",
        "moved": "moved",
        "contacts_affected": "contacts affected",
        "sent_before_after": "sent (before → after)",
        "shift": "shift (median / max)",
        "median_shift": "median shift",
        "no_change": "No message changes in the simulated period.",
        "file_changes": "Changes in the files",
        "per_step": "Sent per step",
        "new_step": "new step",
        "removed_step": "removed step",
        "new_sequence": "new sequence",
        "removed_sequence": "removed sequence",
        "unchanged": "Sequences whose messages do not change",
        "moved_note": "moved: the same contact gets the same step's message at another time. "
        "shift: new time − old time.",
    },
}


def _delta(c: Counts, it: dict[str, str]) -> str:
    return f"{it['added']} {c.added} · {it['removed']} {c.removed} · {it['moved']} {c.moved}"


def _flows(seq: SequenceImpact, base: Project, new: Project, it: dict[str, str]) -> list[Any]:
    """(label, Mermaid text) for the flow before and after, numbers under each send step."""
    out: list[Any] = []
    before = base.sequences.get(seq.sequence)
    if before is not None:
        base_counts = {
            (st.base_step or st.step): [f"{it['before']} {st.counts.base_sent:,}"]
            for st in seq.steps.values()
            if st.status != "added"
        }
        out.append((it["before"], flow_chart(before, base_counts)))
    after = new.sequences.get(seq.sequence)
    if after is not None:
        new_counts = {
            st.step: [f"{it['after']} {st.counts.new_sent:,}", _delta(st.counts, it)]
            if st.counts.changed
            else [f"{it['after']} {st.counts.new_sent:,}"]
            for st in seq.steps.values()
            if st.status != "removed"
        }
        out.append((it["after"], flow_chart(after, new_counts)))
    return out


def period(impact: Impact) -> str:
    """`2026-11-01 – 2026-11-30`: the simulated days in the project's timezone (end exclusive)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(impact.timezone)
    last = impact.end.astimezone(tz) - timedelta(microseconds=1)
    return f"{impact.start.astimezone(tz):%Y-%m-%d} – {last:%Y-%m-%d}"


def _step_row(name: str, c: Counts) -> dict[str, Any]:
    return {
        "step": name,
        "base_sent": c.base_sent,
        "new_sent": c.new_sent,
        "added": c.added,
        "removed": c.removed,
        "moved": c.moved,
        "contacts": len(c.contacts),
        "shift": shift_text(c),
        "changed": c.changed,
    }


def impact_data(
    impact: Impact, diff: ProjectDiff, base: Project, new: Project, lang: str
) -> dict[str, Any]:
    """The context of templates/impact.html.j2 (see pages.render_page)."""
    it = IMPACT_TEXTS[lang]
    t = impact.totals
    shift = t.shift()
    kpis = [
        (it["added"], f"{t.added:,}"),
        (it["removed"], f"{t.removed:,}"),
        (it["moved"], f"{t.moved:,}"),
        (it["contacts_affected"], f"{len(t.contacts):,}"),
        (it["sent_before_after"], f"{t.base_sent:,} → {t.new_sent:,}"),
    ]
    if shift is not None:
        kpis.append((it["median_shift"], describe_shift(shift["median_seconds"])))
    notes = {sd.sequence: [c.summary for c in sd.changes] for sd in diff.sequences}
    status = {"added": it["new_sequence"], "removed": it["removed_sequence"]}
    step_status = {"added": it["new_step"], "removed": it["removed_step"]}
    sequences, unchanged = [], []
    all_charts: dict[str, Any] = {}
    for seq in impact.sequences.values():
        if not seq.counts.changed:
            unchanged.append(seq.sequence)
            continue
        steps = list(seq.steps.values())
        chart_id = f"steps-{seq.sequence}"
        all_charts[chart_id] = charts.bars(
            [st.step for st in steps],
            {it["before"]: [st.counts.base_sent for st in steps],
             it["after"]: [st.counts.new_sent for st in steps]},
        )  # fmt: skip
        rows = []
        for st in steps:
            name = st.step
            if st.base_step:
                name += f" (← {st.base_step})"
            if st.status in step_status:
                name += f" ({step_status[st.status]})"
            rows.append(_step_row(name, st.counts))
        sequences.append(
            {
                "id": seq.sequence,
                "status": status.get(seq.status, ""),
                "kpis": [
                    (it["added"], f"{seq.counts.added:,}"),
                    (it["removed"], f"{seq.counts.removed:,}"),
                    (it["moved"], f"{seq.counts.moved:,}"),
                    (it["contacts_affected"], f"{len(seq.counts.contacts):,}"),
                    (it["shift"], shift_text(seq.counts)),
                ],
                "flows": _flows(seq, base, new, it),
                "chart": chart_id,
                "steps": rows,
                "total": _step_row("", seq.counts),
                "notes": notes.get(seq.sequence, []),
            }
        )
    return {
        "it": it,
        "base": impact.base,
        "contacts": impact.contacts,
        "period": period(impact),
        "totals": kpis,
        "changed": impact.changed,
        "sequences": sequences,
        "unchanged": unchanged,
        "charts": all_charts,
    }


def impact_page(impact: Impact, diff: ProjectDiff, base: Project, new: Project) -> str:
    """The whole page, in the project's language (after the change)."""
    from journeyctl.pages.render import render_page
    from journeyctl.pages.texts import language

    lang = language(new.settings)
    return render_page("impact", impact_data(impact, diff, base, new, lang), lang)
