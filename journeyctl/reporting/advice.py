"""Tuning advice per the seed articles' table, with thresholds from journey.yaml `report:`.

open rate under 20% -> rework the subject; low click rate -> rework the call to action;
rising unsubscribes -> check the interval and the tone. Pure; only steps with at least
`min_recipients` delivered messages are judged.

A rate is only advised on when its data exists: when no `opened` (or `clicked`) event was ever
recorded, a 0% rate says the responses are not tracked, not that the subject (or the call to
action) fails, so the advice says the data is missing instead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journeyctl.spec.models import ReportThresholds

if TYPE_CHECKING:
    from journeyctl.reporting.report import StepStats


@dataclass(frozen=True)
class Advice:
    sequence: str
    step: str | None
    variant: str | None
    # low-open-rate | low-click-rate | high-unsubscribe-rate | rising-unsubscribes
    # | no-open-data | no-click-data
    rule: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "sequence": self.sequence,
            "step": self.step,
            "variant": self.variant,
            "rule": self.rule,
            "message": self.message,
        }


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def advise(
    steps: list[StepStats], t: ReportThresholds, recorded: frozenset[str] | None = None
) -> list[Advice]:
    """`recorded`: the names of the events ever recorded (any time, any contact); None when
    unknown (every rate is then taken as measured)."""
    out: list[Advice] = []
    judged = [s for s in steps if s.delivered >= t.min_recipients]
    opens = recorded is None or "opened" in recorded
    clicks = recorded is None or "clicked" in recorded
    if not opens and any(s.open_rate is not None for s in judged):
        out.append(Advice("", None, None, "no-open-data",
            "no open tracking data: no `opened` event has ever been recorded, so open rates "
            "are unknown, not 0% — record opens (an open pixel, or your email provider's "
            "opens imported as `opened` events) before tuning subjects"))  # fmt: skip
    if not clicks and any(s.click_rate is not None for s in judged):
        out.append(Advice("", None, None, "no-click-data",
            "no click tracking data: no `clicked` event has ever been recorded, so click "
            "rates are unknown, not 0% — record clicks (tracked links, or your provider's "
            "clicks imported as `clicked` events) before tuning calls to action"))  # fmt: skip
    for s in judged:
        name = f"`{s.step}`" + (f" (arm {s.variant})" if s.variant else "")
        if opens and s.open_rate is not None and s.open_rate < t.open_rate_min:
            out.append(Advice(s.sequence, s.step, s.variant, "low-open-rate",
                f"{s.sequence} {name}: open rate {_pct(s.open_rate)} is under "
                f"{_pct(t.open_rate_min)} — rework the subject line"))  # fmt: skip
        if clicks and s.click_rate is not None and s.click_rate < t.click_rate_min:
            out.append(Advice(s.sequence, s.step, s.variant, "low-click-rate",
                f"{s.sequence} {name}: click rate {_pct(s.click_rate)} is under "
                f"{_pct(t.click_rate_min)} — rework the call to action"))  # fmt: skip
        if s.unsubscribe_rate is not None and s.unsubscribe_rate > t.unsubscribe_rate_max:
            out.append(Advice(s.sequence, s.step, s.variant, "high-unsubscribe-rate",
                f"{s.sequence} {name}: unsubscribe rate {_pct(s.unsubscribe_rate)} is over "
                f"{_pct(t.unsubscribe_rate_max)} — check the interval and the tone"))  # fmt: skip
    # Rising: the unsubscribe rate grows over three or more consecutive steps of one path.
    by_seq: dict[tuple[str, str | None], list[StepStats]] = defaultdict(list)
    for s in judged:
        by_seq[(s.sequence, s.variant)].append(s)
    for (seq, variant), rows in by_seq.items():
        rates = [(r.step, r.unsubscribe_rate or 0.0) for r in rows]
        run = 1
        for i in range(1, len(rates)):
            run = run + 1 if rates[i][1] > rates[i - 1][1] else 1
            if run >= 3 and (i + 1 == len(rates) or rates[i + 1][1] <= rates[i][1]):
                path = " → ".join(f"`{st}` {_pct(r)}" for st, r in rates[i - run + 1 : i + 1])
                out.append(Advice(seq, None, variant, "rising-unsubscribes",
                    f"{seq}: unsubscribes rise step after step ({path}) — check the interval "
                    "between messages and the tone"))  # fmt: skip
    return out
