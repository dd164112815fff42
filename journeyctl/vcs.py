"""Reading a project as it was at a git ref: the one place journeyctl runs a subprocess.

`diff --base REF` materialises journey.yaml, the sequence files and templates/** of REF into a
temporary directory and loads that with the normal loader, so both sides are read by the
same code and compared as models.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath

from journeyctl.errors import UsageError


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("git")
    if exe is None:
        raise UsageError("git is not installed or not on PATH; `diff --base` reads the git history")
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, check=False)


def _fail(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"git exited with {proc.returncode}"


def project_prefix(project_dir: Path) -> str:
    """The project's path inside its repository, '' at the top ('sequences/' below it)."""
    if not project_dir.is_dir():
        raise UsageError(f"{project_dir}: not a project directory")
    proc = _git(project_dir, "rev-parse", "--show-prefix")
    if proc.returncode != 0:
        raise UsageError(
            f"{project_dir}: not inside a git repository ({_fail(proc)}); "
            "--base compares the files with a git ref"
        )
    return proc.stdout.decode().strip()


def resolve(project_dir: Path, ref: str) -> str:
    """The commit id of `ref`, or a usage error naming the ref."""
    proc = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if proc.returncode != 0:
        raise UsageError(
            f"--base {ref}: not a commit in this repository (try a branch name, a tag or HEAD~1)"
        )
    return proc.stdout.decode().strip()


def ls_tree(project_dir: Path, ref: str, prefix: str) -> list[str]:
    """Paths (relative to the repository root) of every file under `prefix` at `ref`."""
    args = ["ls-tree", "-r", "-z", "--name-only", "--full-tree", ref]
    if prefix:
        args += ["--", prefix]
    proc = _git(project_dir, *args)
    if proc.returncode != 0:
        raise UsageError(f"git ls-tree {ref}: {_fail(proc)}")
    return [p for p in proc.stdout.decode("utf-8").split("\0") if p]


def show(project_dir: Path, ref: str, path: str) -> bytes:
    """The bytes of `path` (relative to the repository root) at `ref`."""
    proc = _git(project_dir, "show", f"{ref}:{path}")
    if proc.returncode != 0:
        raise UsageError(f"git show {ref}:{path}: {_fail(proc)}")
    return proc.stdout


def is_project_file(rel: str) -> bool:
    """journey.yaml, top-level *.yaml/*.yml and anything under templates/ (SPEC §2)."""
    parts = PurePosixPath(rel).parts
    if not parts:
        return False
    if parts[0] == "templates" and len(parts) > 1:
        return True
    return len(parts) == 1 and parts[0].endswith((".yaml", ".yml"))


def materialise(project_dir: Path, ref: str, dest: Path) -> list[str]:
    """Write the project files of `project_dir` as they were at `ref` under `dest`.

    Returns the project-relative paths written; an empty list means the project did not exist
    at `ref` (every sequence then shows as added).
    """
    prefix = project_prefix(project_dir)
    commit = resolve(project_dir, ref)
    written: list[str] = []
    for full in ls_tree(project_dir, commit, prefix):
        rel = full[len(prefix) :] if prefix else full
        if not is_project_file(rel):
            continue
        target = dest.joinpath(*PurePosixPath(rel).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(show(project_dir, commit, full))
        written.append(rel)
    return written
