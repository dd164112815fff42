"""The two sides of a review: the working tree, and the same project as it was at a git ref."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

from journeyctl import vcs
from journeyctl.errors import ProjectError
from journeyctl.review.semantic_diff import Side
from journeyctl.spec.loader import load_project


def read_templates(root: Path) -> dict[str, str]:
    """Every file under templates/, by its path there (as sequences name them)."""
    base = root / "templates"
    if not base.is_dir():
        return {}
    out: dict[str, str] = {}
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        out[path.relative_to(base).as_posix()] = path.read_text(
            encoding="utf-8-sig", errors="replace"
        )
    return out


def load_side(root: Path, *, label: str | None = None, base: Path | None = None) -> Side:
    """Load one version; refuse when its files do not load (validate says why, with lines)."""
    project = load_project(root, base=base)
    errors = project.errors
    if errors:
        where = f" at {label}" if label else ""
        raise ProjectError(
            errors, f"the project{where} has {len(errors)} error(s) that stop it loading"
        )
    return Side(project, read_templates(root))


@contextmanager
def base_side(project_dir: Path, ref: str) -> Iterator[Side]:
    """The project as it was at `ref`, loaded from a temporary copy of its files."""
    with TemporaryDirectory(prefix="journeyctl-base-") as tmp:
        root = Path(tmp)
        vcs.materialise(project_dir, ref, root)
        yield load_side(root, label=ref, base=root)
