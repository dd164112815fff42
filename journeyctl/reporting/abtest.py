"""A/B comparison of split arms with a two-proportion z-test. Pure.

The metric is goal conversion for sequences with a goal, else the share of enrollments that
clicked. A winner is named only when the best arm beats the runner-up with p < alpha and
every arm has at least `min_recipients` enrollments (journey.yaml `report:`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from journeyctl.spec.models import ReportThresholds

if TYPE_CHECKING:
    from journeyctl.reporting.report import EnrollmentRow, MessageRow


@dataclass(frozen=True)
class Arm:
    name: str
    n: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0


@dataclass
class Comparison:
    sequence: str
    metric: str  # goal | click
    arms: list[Arm] = field(default_factory=list)
    p_value: float | None = None
    lift: float | None = None  # best arm's rate over the runner-up's, relative
    winner: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "sequence": self.sequence,
            "metric": self.metric,
            "arms": [
                {"arm": a.name, "n": a.n, "successes": a.successes, "rate": round(a.rate, 4)}
                for a in self.arms
            ],
            "p_value": None if self.p_value is None else round(self.p_value, 6),
            "lift": None if self.lift is None else round(self.lift, 4),
            "winner": self.winner,
            "note": self.note,
        }


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of H0: p1 == p2 (pooled z-test); None when undefined.

    >>> round(two_proportion_p(120, 1000, 90, 1000), 4)
    0.0287
    """
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class ArmTally:
    """One arm's enrollments (from `since`): how many, how many reached the goal, how many
    clicked a message of theirs."""

    n: int
    goals: int
    clicks: int


def compare_arms(
    messages: list[MessageRow],
    enrollments: list[EnrollmentRow],
    attributor: object,
    responded: Mapping[str, Collection[str]],
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
    tallies = {
        seq: {
            name: ArmTally(
                len(rows),
                sum(e.outcome == "goal" for e in rows),
                sum(e.id in clicked_enrollments for e in rows),
            )
            for name, rows in by_name.items()
        }
        for seq, by_name in arms.items()
    }
    return compare_tallies(tallies, thresholds, goal_sequences)


def compare_tallies(
    arms: Mapping[str, Mapping[str, ArmTally]],
    thresholds: ReportThresholds,
    goal_sequences: Collection[str],
) -> list[Comparison]:
    """Per sequence (sequence -> arm -> tally), the arms compared on goal conversion when the
    sequence has a goal, else on clicks."""
    out = []
    for seq in sorted(arms):
        metric = "goal" if seq in goal_sequences else "click"
        c = Comparison(seq, metric)
        for name in sorted(arms[seq]):
            t = arms[seq][name]
            c.arms.append(Arm(name, t.n, t.goals if metric == "goal" else t.clicks))
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
