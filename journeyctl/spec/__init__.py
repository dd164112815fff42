"""Project files -> validated, located, immutable models. See README.md in this folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from journeyctl.diagnostics import Diagnostic
from journeyctl.errors import ProjectError, UsageError

TYPE_CHECKING = False  # typing itself is not imported: the idle minute imports spec.fingerprint
if TYPE_CHECKING:
    from typing import Any

    from journeyctl.spec.project import LoadedSequence, Project

__all__ = ["LoadedSequence", "Project", "ValidationResult", "load_valid_project", "validate_paths"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the idle cron minute imports spec.fingerprint without pydantic.
    if name in ("LoadedSequence", "Project"):
        from journeyctl.spec import project

        return getattr(project, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ValidationResult:
    projects: list[Project] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def validate_project(project: Project) -> list[Diagnostic]:
    from journeyctl.spec.cascade import roots_first
    from journeyctl.spec.checks import run_checks

    return roots_first(project, [*project.diagnostics, *run_checks(project)])


def validate_paths(paths: Sequence[Path]) -> ValidationResult:
    """Validate project directories and/or single sequence files (their project is their folder)."""
    from journeyctl.spec.loader import is_sequence_file, load_project

    result = ValidationResult()
    for path in paths:
        if path.is_dir():
            project = load_project(path, salvage=True)
        elif path.is_file() and is_sequence_file(path):
            project = load_project(path.parent, only=[path], salvage=True)
        else:
            raise UsageError(f"{path}: not a project directory or a sequence file")
        result.projects.append(project)
        result.diagnostics.extend(validate_project(project))
    return result


def load_valid_project(root: Path, *, fingerprint: str | None = None) -> Project:
    """Load a project for commands that act on it: refuse (ProjectError) when it has errors.
    Its manifest (`project.manifest`, what the engine reads) is made here, with the project's
    fingerprint: its files hashed before they are loaded (spec.fingerprint), so it describes no
    later edit; `fingerprint` when the caller has hashed them already (the idle attempt). Files
    that cannot be hashed for sure (a FIFO under templates/): the content fingerprint."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a project directory")
    from journeyctl.spec.fingerprint import FingerprintError, project_fingerprint
    from journeyctl.spec.loader import load_project

    if fingerprint is None:
        try:
            fingerprint = project_fingerprint(root)
        except FingerprintError:
            pass  # build_manifest falls back to content_fingerprint

    project = load_project(root)
    diags = validate_project(project)
    errors = [d for d in diags if d.is_error]
    if errors:
        raise ProjectError(
            errors,
            f"{root}: the project has {len(errors)} error(s); run `journeyctl validate {root}`",
        )
    project.diagnostics = diags
    project.freeze(fingerprint)
    return project
