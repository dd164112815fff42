"""A segment sequence that would enroll a crowd at its first check (the issue: "1,508
win-back mails in one tick"): `simulate` and `plan` warn above a threshold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from journeyctl.engine.model import Enrollment
from journeyctl.spec.models import SegmentTrigger
from journeyctl.spec.project import Project

# Warn when one check enrolls more than SPIKE_SHARE of the contacts (at least SPIKE_MIN),
# or more than SPIKE_MAX whatever the share (docs/decisions/operate-engine.md).
SPIKE_MAX: Final = 500
SPIKE_SHARE: Final = 0.10
SPIKE_MIN: Final = 50


def spike_threshold(contacts: int) -> int:
    """More than this many entries at one check is a spike."""
    return min(SPIKE_MAX, max(SPIKE_MIN, int(contacts * SPIKE_SHARE)))


def crowd_starts(project: Project) -> list[str]:
    """Segment sequences that enroll everyone matching at their first check (no `existing:
    skip`), in id order."""
    return [
        sid
        for sid, seq in sorted(project.sequences.items())
        if isinstance(seq.model.trigger, SegmentTrigger)
        and seq.model.trigger.existing == "enroll"
        and not seq.model.paused
    ]


def first_check_spikes(
    project: Project, enrollments: Iterable[Enrollment], contacts: int
) -> list[tuple[str, datetime, int]]:
    """(sequence, its first entry instant, entries then) above the threshold."""
    watched = set(crowd_starts(project))
    at: dict[str, Counter[datetime]] = {}
    for e in enrollments:
        if e.sequence in watched:
            at.setdefault(e.sequence, Counter())[e.entered_at] += 1
    return spikes_in(at, contacts)


def spikes_in(at: dict[str, Counter[datetime]], contacts: int) -> list[tuple[str, datetime, int]]:
    """first_check_spikes from entries already counted per watched sequence and instant
    (simulate counts them chunk by chunk)."""
    limit = spike_threshold(contacts)
    out = []
    for sid in sorted(at):
        first = min(at[sid])
        n = at[sid][first]
        if n > limit:
            out.append((sid, first, n))
    return out


def spike_warning(sid: str, n: int, when: str) -> str:
    return (
        f"warning: {sid} enrolls {n} contact(s) at once at its first check ({when}): everyone "
        "who matches already; add `existing: skip` to its trigger to enroll only those who "
        "begin to match from then on"
    )
