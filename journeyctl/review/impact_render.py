"""A change's impact in words and as a Markdown table (the pull-request comment). Pure strings;
the terminal table is drawn by journeyctl.cli.impact_render from the same rows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from journeyctl.review.impact import Counts, Impact

# Columns of the per-step table, in the order both renderings show them.
COLUMNS = ("sequence", "step", "sent before → after", "added", "removed", "moved", "contacts",
           "shift median / max")  # fmt: skip


def describe_shift(seconds: int) -> str:
    """`+1d`, `-2h 30m`, `+45s`, `0`: new minus base, in the largest units that keep it exact
    to the minute (seconds only under a minute)."""
    if seconds == 0:
        return "0"
    sign = "+" if seconds > 0 else "-"
    rest = abs(seconds)
    if rest < 60:
        return f"{sign}{rest}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n}{unit}")
    if rest:
        parts.append(f"{rest}s")
    return sign + " ".join(parts)


def shift_text(counts: Counts) -> str:
    """`+1d / +1d` (the median / the largest by size), or `-` when nothing moved."""
    shift = counts.shift()
    if shift is None:
        return "-"
    largest = max(counts.shifts, key=abs)
    return f"{describe_shift(shift['median_seconds'])} / {describe_shift(largest)}"


def _mark(status: str) -> str:
    return {"added": " (new)", "removed": " (removed)"}.get(status, "")


def rows(impact: Impact) -> list[list[str]]:
    """One row per step whose messages changed, then the sequence's own total row (step `all`
    when it has more than one changed step)."""
    out: list[list[str]] = []
    for seq in impact.sequences.values():
        changed = [st for st in seq.steps.values() if st.counts.changed]
        for st in changed:
            name = st.step + _mark(st.status)
            if st.base_step:
                name += f" (was {st.base_step})"
            out.append([seq.sequence + _mark(seq.status), name, *_numbers(st.counts)])
        if len(changed) > 1:
            out.append([seq.sequence + _mark(seq.status), "all steps", *_numbers(seq.counts)])
    return out


def _numbers(c: Counts) -> list[str]:
    return [
        f"{c.base_sent} → {c.new_sent}",
        str(c.added),
        str(c.removed),
        str(c.moved),
        str(len(c.contacts)),
        shift_text(c),
    ]


def _day(t: datetime, tz: str) -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d")


def headline(impact: Impact) -> str:
    days = round((impact.end - impact.start).total_seconds() / 86400)
    return (
        f"{impact.contacts} contacts, {days} days from "
        f"{_day(impact.start, impact.timezone)}, both versions on the same data"
    )


def summary(impact: Impact) -> str:
    t = impact.totals
    if not t.changed:
        return (
            f"no message changes against `{impact.base}`: the same {t.new_sent} messages "
            "at the same times"
        )
    return (
        f"against `{impact.base}`: {t.added} added, {t.removed} removed, {t.moved} moved, "
        f"for {len(t.contacts)} contacts (sent {t.base_sent} → {t.new_sent})"
        + (f"; timing shift median / max {shift_text(t)}" if t.shifts else "")
    )


def to_markdown(impact: Impact) -> str:
    lines = [f"### journeyctl impact: {headline(impact)}", "", summary(impact), ""]
    table = rows(impact)
    if table:
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---|")
        for row in table:
            lines.append("| " + " | ".join(row) + " |")
        lines += [
            "",
            "<sub>moved: the same contact gets the same step's message at another time; "
            "shift: new time − old time; a message moved past the end of the period counts as "
            "removed, one moved into it as added.</sub>",
            "",
        ]
    return "\n".join(lines)
