"""What the engine keeps per sequence of the manifest (spec.manifest), and the live-edit rules.

The steps are the manifest's own (`StepPlan`: what each kind reads of its model). Per sequence
the engine keeps, compiled, the values it reads at every instant of every contact (a compiled
record's attribute is a load, a model's a lookup behind a hook) and what only the engine
computes: a segment's cron timeline and horizon, a date trigger's anniversary rule, each send's
scheduling rules (fixed for a loaded project).
"""

from __future__ import annotations

from typing import Final, Literal

from journeyctl.engine.horizon import Horizon, horizon_compile
from journeyctl.engine.rules import SendRules
from journeyctl.engine.triggers import AnniversaryRule, _Timeline, cron_timeline
from journeyctl.spec.durations import Duration
from journeyctl.spec.manifest import Manifest, ManifestSequence, StepPlan
from journeyctl.spec.models import (
    DateTrigger,
    EventTrigger,
    ProjectSettings,
    Reentry,
    SegmentTrigger,
    Sequence,
)

# Why an enrollment made with another version of its sequence ends (SPEC §5).
SEQUENCE_REMOVED: Final = "sequence_removed"
STEP_REMOVED: Final = "step_removed"
# An active enrollment's reason while its sequence is paused (it holds its place).
PAUSED: Final = "paused"

Action = Literal["continue", "move", "exit"]


class SequencePlan:
    """A manifest sequence as the engine reads it. Trigger fields by the trigger's kind: `event`
    for event triggers, `segment`/`timeline`/`horizon` for segments, `anniversary` for dates."""

    model: Sequence
    id: str
    version: str
    first: str | None
    nodes: dict[str, StepPlan]  # the manifest's steps
    rules: dict[str, SendRules]  # by send step id
    reentry: Reentry
    enters_once: bool  # reentry "never"
    audience: str | None
    exit_on: set[str]
    goal_event: str | None
    goal_within: Duration | None
    migrate: dict[str, str]
    paused: bool  # no entries; active enrollments hold at their step (Steps.run)
    unless_in: frozenset[str]  # no entry while active in one of these sequences
    skip_existing: bool  # segment `existing: skip`: who matches at the start never enters
    trigger: EventTrigger | SegmentTrigger | DateTrigger
    event: str
    where: str | None
    segment: str
    timeline: _Timeline | None
    horizon: Horizon | None
    anniversary: AnniversaryRule | None

    def __init__(self, entry: ManifestSequence, settings: ProjectSettings) -> None:
        m = entry.model
        self.model = m
        self.id = entry.id
        self.version = entry.version
        self.first = entry.first
        self.nodes = entry.steps
        self.rules = {}
        for node in self.nodes.values():
            if node.send is not None:
                self.rules[node.id] = SendRules.for_step(
                    settings, m, node.send, node.medium, node.channel
                )
        self.reentry = m.reentry
        self.enters_once = m.reentry == "never"
        self.audience = m.audience
        self.exit_on = set(m.exit_on)
        self.goal_event = m.goal.event if m.goal is not None else None
        self.goal_within = m.goal.within if m.goal is not None else None
        self.migrate = m.migrate
        self.paused = m.paused
        self.unless_in = frozenset(m.unless_in)
        self.skip_existing = type(m.trigger) is SegmentTrigger and m.trigger.existing == "skip"
        trig = m.trigger
        self.trigger = trig
        self.event = trig.event if type(trig) is EventTrigger else ""
        self.where = trig.where if type(trig) is EventTrigger else None
        self.segment = trig.segment if type(trig) is SegmentTrigger else ""
        self.timeline = self.horizon = None
        if type(trig) is SegmentTrigger:
            self.timeline = cron_timeline(trig.check, settings.timezone)
            self.horizon = horizon_compile(trig.segment)
        self.anniversary = AnniversaryRule(trig.date) if type(trig) is DateTrigger else None


def plan_sequences(manifest: Manifest) -> list[SequencePlan]:
    """The manifest's sequences as the engine reads them, in id order."""
    return [SequencePlan(entry, manifest.settings) for entry in manifest.sequences.values()]


def resume_position(seq: SequencePlan, position: str | None) -> str | None:
    """Where an enrollment at `position`, made with another version of `seq`, goes on (SPEC §5):
    the same step id, unless `migrate:` maps it elsewhere. A position that is not a step of
    `seq` then ends the enrollment (STEP_REMOVED); None completes it."""
    if position is not None and position in seq.migrate:
        return seq.migrate[position]
    return position


def fate(seq: SequencePlan | None, position: str | None) -> tuple[Action, str | None, str | None]:
    """What the engine does to an enrollment at `position` made with another version of `seq`
    (None: the sequence was removed): (action, the step a move lands on, an exit's reason)."""
    if seq is None:
        return "exit", None, SEQUENCE_REMOVED
    if position is None:
        return "continue", None, None  # completes on its next turn
    target = resume_position(seq, position)
    if target is None or target not in seq.nodes:
        return "exit", None, STEP_REMOVED
    if position in seq.migrate:
        return "move", target, None
    return "continue", None, None
