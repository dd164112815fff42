"""The loaded, immutable project: settings, sequences with their flows and sources, and the
manifest made of them once they have validated (spec.manifest)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeyctl.diagnostics import Diagnostic, Location
from journeyctl.spec.flow import Flow
from journeyctl.spec.models import ProjectSettings, Sequence
from journeyctl.spec.yamlsrc import SourceFile

if TYPE_CHECKING:
    from journeyctl.spec.manifest import Manifest


@dataclass
class LoadedSequence:
    model: Sequence
    source: SourceFile
    flow: Flow

    @cached_property
    def id(self) -> str:
        return self.model.id

    @cached_property
    def version(self) -> str:
        """Content hash of the sequence (SPEC §5: enrollments remember it)."""
        return sequence_hash(self.model)


def sequence_hash(seq: Sequence) -> str:
    # `paused` is not content: pausing moves nobody, and versions stay as before it existed.
    # Keys added later hash only when set, so a sequence's version stays what it was.
    exclude: dict[str, Any] = {"paused": True}
    if not seq.unless_in:
        exclude["unless_in"] = True
    if getattr(seq.trigger, "existing", "enroll") == "enroll":
        exclude["trigger"] = {"existing": True}
    dumped = seq.model_dump_json(by_alias=True, exclude=exclude)
    return hashlib.sha256(dumped.encode()).hexdigest()[:16]


@dataclass
class Project:
    root: Path
    settings: ProjectSettings
    sequences: dict[str, LoadedSequence] = field(default_factory=dict)
    settings_source: SourceFile | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # journey.yaml's errors and the top-level keys each left unusable (spec.salvage)
    settings_damage: list[tuple[Location, frozenset[str]]] = field(default_factory=list)
    _manifest: Manifest | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def manifest(self) -> Manifest:
        """The frozen engine input (spec.manifest): made by `load_valid_project` once the
        project has validated, or here on first use (a project loaded without the checks)."""
        if self._manifest is None:
            from journeyctl.spec.manifest import build_manifest

            self._manifest = build_manifest(self)
        return self._manifest

    def freeze(self, fingerprint: str | None = None) -> Manifest:
        """Make the manifest now, with the project's `fingerprint` when the caller has one."""
        from journeyctl.spec.manifest import build_manifest

        self._manifest = build_manifest(self, fingerprint)
        return self._manifest

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def default_channel(self) -> str:
        """A send without `channel:` goes to the first channel declared in journey.yaml."""
        return next(iter(self.settings.channels))
