"""The engine's compiled view of a loaded sequence: the values it reads at every instant.

Reading an attribute of a pydantic model costs ~250 instructions (a dict lookup behind the
model's `__getattr__` hook); reading one of these compiled records is a load. The engine
read ~170 model attributes per contact of a simulation. Plans are made once, when the engine
is; the models stay the source of truth, and the plans keep them for what is read rarely.
"""

from __future__ import annotations

from typing import Final

from journeyctl.engine.horizon import Horizon, horizon_compile
from journeyctl.engine.rules import SendRules
from journeyctl.engine.triggers import AnniversaryRule, _Timeline, cron_timeline
from journeyctl.spec.durations import Duration
from journeyctl.spec.flow import Node
from journeyctl.spec.models import (
    Branch,
    DateTrigger,
    EventTrigger,
    Exit,
    Reentry,
    SegmentTrigger,
    Send,
    Sequence,
    Split,
    Wait,
    WaitFor,
    WaitUntil,
)
from journeyctl.spec.project import LoadedSequence, Project

# Step kinds, by exact type of the step model (the step models are final).
SEND: Final = 0
WAIT: Final = 1
BRANCH: Final = 2
SPLIT: Final = 3
WAIT_FOR: Final = 4
EXIT: Final = 5


class StepPlan:
    """A flow node and what its kind reads of its step. Fields of other kinds stay empty."""

    id: str
    kind: int
    next: str | None
    children: dict[str, str | None]
    send: Send | None  # the step itself, for a send
    send_id: str
    channel: str  # sends: filled in by plan_sequence (it knows the project's channels)
    rules: SendRules | None
    wait: Duration | WaitUntil | None
    branch_if: str
    weights: list[tuple[str, float]]  # split arms, in order
    wait_event: str
    wait_where: str | None
    wait_timeout: Duration | None
    exit_reason: str

    def __init__(self, node: Node) -> None:
        step = node.step
        self.id = node.id
        self.next = node.next
        self.children = node.children
        self.send = None
        self.send_id = self.channel = self.branch_if = self.wait_event = self.exit_reason = ""
        self.rules = None
        self.wait = None
        self.weights = []
        self.wait_where = None
        self.wait_timeout = None
        if type(step) is Send:
            self.kind = SEND
            self.send = step
            self.send_id = step.send
        elif type(step) is Wait:
            self.kind = WAIT
            self.wait = step.wait
        elif type(step) is Branch:
            self.kind = BRANCH
            self.branch_if = step.branch.if_
        elif type(step) is Split:
            self.kind = SPLIT
            self.weights = [(name, arm.weight) for name, arm in step.split.items()]
        elif type(step) is WaitFor:
            self.kind = WAIT_FOR
            self.wait_event = step.wait_for.event
            self.wait_where = step.wait_for.where
            self.wait_timeout = step.wait_for.timeout
        elif type(step) is Exit:
            self.kind = EXIT
            self.exit_reason = step.exit
        else:  # pragma: no cover - the loader admits only the kinds above
            raise TypeError(f"unknown step kind: {type(step).__name__}")


class SequencePlan:
    """A loaded sequence as the engine reads it. Trigger fields by the trigger's kind: `event`
    for event triggers, `segment`/`timeline`/`horizon` for segments, `anniversary` for dates."""

    model: Sequence
    id: str
    version: str
    first: str | None
    nodes: dict[str, StepPlan]
    reentry: Reentry
    enters_once: bool  # reentry "never"
    audience: str | None
    exit_on: set[str]
    goal_event: str | None
    goal_within: Duration | None
    migrate: dict[str, str]
    trigger: EventTrigger | SegmentTrigger | DateTrigger
    event: str
    where: str | None
    segment: str
    timeline: _Timeline | None
    horizon: Horizon | None
    anniversary: AnniversaryRule | None

    def __init__(
        self, loaded: LoadedSequence, timeline: _Timeline | None, horizon: Horizon | None
    ) -> None:
        m = loaded.model
        self.model = m
        self.id = loaded.id
        self.version = loaded.version
        self.first = loaded.flow.first
        self.nodes = {nid: StepPlan(node) for nid, node in loaded.flow.nodes.items()}
        self.reentry = m.reentry
        self.enters_once = m.reentry == "never"
        self.audience = m.audience
        self.exit_on = set(m.exit_on)
        self.goal_event = m.goal.event if m.goal is not None else None
        self.goal_within = m.goal.within if m.goal is not None else None
        self.migrate = m.migrate
        trig = m.trigger
        self.trigger = trig
        self.event = trig.event if type(trig) is EventTrigger else ""
        self.where = trig.where if type(trig) is EventTrigger else None
        self.segment = trig.segment if type(trig) is SegmentTrigger else ""
        self.timeline = timeline
        self.horizon = horizon
        self.anniversary = AnniversaryRule(trig.date) if type(trig) is DateTrigger else None


def plan_sequence(project: Project, loaded: LoadedSequence) -> SequencePlan:
    """A loaded sequence of `project` as the engine reads it: a segment's cron timeline and
    horizon, each send's channel and rules (fixed for a loaded project)."""
    trig = loaded.model.trigger
    timeline = horizon = None
    if type(trig) is SegmentTrigger:
        timeline = cron_timeline(trig.check, project.settings.timezone)
        horizon = horizon_compile(trig.segment)
    plan = SequencePlan(loaded, timeline, horizon)
    for node in plan.nodes.values():
        if node.send is not None:
            node.channel = node.send.channel or project.default_channel()
            cfg = project.settings.channels.get(node.channel)
            medium = cfg.medium if cfg is not None else "other"
            node.rules = SendRules.for_step(
                project.settings, loaded.model, node.send, medium, node.channel
            )
    return plan
