"""The frozen engine input: what `spec` hands on once a project has validated (like dbt's
manifest). The engine, `diff`, `plan` and `test` read sequences and steps from here.

A sequence's steps are linked into `StepPlan`s when it loads (spec.flow: ids, `next`, nested
lists), each with what its kind means already read out of the model, and its channel resolved.
They are the one representation of a step after the YAML model: the checks address them by id
and key path, the engine walks them. The manifest adds what only a valid project has: the
sequences in id order, their versions, and the project's fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from journeyctl.spec.durations import Duration
from journeyctl.spec.models import (
    STEP_KINDS,
    Branch,
    Exit,
    KeyPath,
    Medium,
    ProjectSettings,
    Send,
    Sequence,
    Split,
    Step,
    Wait,
    WaitFor,
    WaitUntil,
    step_kind,
)

if TYPE_CHECKING:
    from journeyctl.spec.project import LoadedSequence, Project

# Kind codes: a step kind's position in STEP_KINDS (tests/spec check they agree). Literal
# constants so the compiled engine compares them as machine integers.
SEND: Final = 0
WAIT: Final = 1
BRANCH: Final = 2
SPLIT: Final = 3
WAIT_FOR: Final = 4
EXIT: Final = 5


class StepPlan:
    """One step of a sequence as the engine reads it: its place in the flow, and what its kind
    reads of its model (plain attributes: reading a pydantic model's goes through its
    `__getattr__` hook). Fields of other kinds stay empty. Never changed once the sequence has loaded."""

    __slots__ = (
        "branch_if", "channel", "children", "exit_reason", "id", "kind", "kind_name", "medium",
        "next", "path", "send", "send_id", "step", "wait", "wait_event", "wait_timeout",
        "wait_where", "weights",
    )  # fmt: skip

    id: str
    kind: int  # SEND, WAIT, ...: the position of `kind_name` in STEP_KINDS
    kind_name: str
    path: KeyPath  # key path in the YAML file, for diagnostics
    next: str | None  # where flow continues after this step (and its nested lists)
    # first step of each nested list: branch then/else, split arms, wait_for outcomes
    children: dict[str, str | None]
    step: Step
    send: Send | None  # the step itself, for a send
    send_id: str
    channel: str  # sends: the step's channel, or the project's first one
    medium: Medium  # sends: the channel's medium ("other" for a channel not declared)
    wait: Duration | WaitUntil | None
    branch_if: str
    weights: list[tuple[str, float]]  # split arms, in order
    wait_event: str
    wait_where: str | None
    wait_timeout: Duration | None
    exit_reason: str

    def __init__(
        self,
        sid: str,
        step: Step,
        path: KeyPath,
        next_: str | None,
        children: dict[str, str | None],
        settings: ProjectSettings,
    ) -> None:
        self.id, self.step, self.path, self.next, self.children = sid, step, path, next_, children
        self.kind_name = step_kind(step) or "?"
        self.kind = STEP_KINDS.index(self.kind_name)
        self.send = None
        self.send_id = self.channel = self.branch_if = self.wait_event = self.exit_reason = ""
        self.medium = "other"
        self.wait = None
        self.weights = []
        self.wait_where = None
        self.wait_timeout = None
        if isinstance(step, Send):
            self.send = step
            self.send_id = step.send
            self.channel = step.channel or next(iter(settings.channels))
            cfg = settings.channels.get(self.channel)
            self.medium = cfg.medium if cfg is not None else "other"
        elif isinstance(step, Wait):
            self.wait = step.wait
        elif isinstance(step, Branch):
            self.branch_if = step.branch.if_
        elif isinstance(step, Split):
            self.weights = [(name, arm.weight) for name, arm in step.split.items()]
        elif isinstance(step, WaitFor):
            self.wait_event = step.wait_for.event
            self.wait_where = step.wait_for.where
            self.wait_timeout = step.wait_for.timeout
        elif isinstance(step, Exit):
            self.exit_reason = step.exit

    def __repr__(self) -> str:
        return f"StepPlan({self.id!r}, {self.kind_name}, next={self.next!r})"


@dataclass(frozen=True, slots=True)
class ManifestSequence:
    """A valid sequence: its model, content version and linked steps (first: where it starts)."""

    id: str
    version: str
    model: Sequence
    first: str | None
    steps: dict[str, StepPlan]
    loaded: LoadedSequence  # the file it came from, for diagnostics and previews


@dataclass(frozen=True, slots=True)
class Manifest:
    """A valid project as the engine reads it. `fingerprint` keys what is cached on the
    project's files: the idle check, the template cache and a held contact's wait."""

    project: Project
    sequences: dict[str, ManifestSequence]  # in id order
    fingerprint: str

    @property
    def settings(self) -> ProjectSettings:
        return self.project.settings


def content_fingerprint(project: Project) -> str:
    """The fingerprint when the files were not hashed (spec.fingerprint, by load_valid_project):
    journey.yaml's settings, every sequence's version and the names and bytes of the regular
    files under templates/ (an edit there may fix a message that failed to render)."""
    h = hashlib.sha256(project.settings.model_dump_json(by_alias=True).encode())
    for sid in sorted(project.sequences):
        loaded = project.sequences[sid]
        h.update(f"\0{sid}\0{loaded.version}".encode())
        if loaded.model.paused:  # not in the version, but a resume must wake held contacts
            h.update(b"\0paused")
    root = project.templates_dir
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(b"\0" + str(path.relative_to(root)).encode("utf-8", "surrogateescape"))
            try:
                h.update(b"\0" + hashlib.sha256(path.read_bytes()).digest())
            except OSError:
                pass
    return h.hexdigest()[:16]


def build_manifest(project: Project, fingerprint: str | None = None) -> Manifest:
    """The manifest of a loaded project (its checks passed: the loader refuses the others).
    `fingerprint`: the project's files hashed (spec.fingerprint); else content_fingerprint."""
    sequences = {
        sid: ManifestSequence(
            sid, loaded.version, loaded.model, loaded.flow.first, loaded.flow.nodes, loaded
        )
        for sid, loaded in sorted(project.sequences.items())
    }
    return Manifest(
        project,
        sequences,
        fingerprint if fingerprint is not None else content_fingerprint(project),
    )
