"""`journeyctl init`: copy the stock library (or another project) into a new directory.

The stock library is `sequences/` in a source checkout and `journeyctl/stock` in an installed
wheel (pyproject force-includes it), so both are looked up.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from journeyctl.errors import UsageError
from journeyctl.spec.schema import KINDS, file_name, schema_text

STOCK = "sequences"
SCHEMA_DIR = ".schema"
_REPO_SCHEMA = "../docs/schema/"
_SKIP = shutil.ignore_patterns("__pycache__", "outbox", "*.pyc", ".DS_Store")


def stock_dir() -> Path:
    """Where the stock library is: the installed package data, else the source checkout."""
    packaged = resources.files("journeyctl") / "stock"
    if packaged.is_dir() and (packaged / "journey.yaml").is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[1] / "sequences"
    if (checkout / "journey.yaml").is_file():
        return checkout
    raise UsageError("the stock library is missing from this installation; reinstall journeyctl")


def source_dir(origin: str) -> Path:
    if origin == STOCK:
        return stock_dir()
    path = Path(origin)
    if not path.is_dir():
        raise UsageError(
            f"--from {origin}: not a directory (use `sequences` for the stock library)"
        )
    return path


def scaffold(target: Path, origin: str = STOCK, *, force: bool = False) -> list[Path]:
    """Copy `origin` into `target`; returns the files written (relative to target).

    Refuses a non-empty target unless `force`, which overwrites same-named files only.
    """
    src = source_dir(origin)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise UsageError(f"{target}: directory is not empty (use --force to copy over it)")
    shutil.copytree(src, target, ignore=_SKIP, dirs_exist_ok=True)
    _localise_schema_links(target)
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())


def _localise_schema_links(target: Path) -> None:
    # Stock files point editors at the repo's docs/schema; a new project gets its own copy.
    schema_dir = target / SCHEMA_DIR
    schema_dir.mkdir(exist_ok=True)
    for kind in KINDS:
        (schema_dir / file_name(kind)).write_text(schema_text(kind), encoding="utf-8")
    for path in target.glob("*.y*ml"):
        text = path.read_text(encoding="utf-8")
        if _REPO_SCHEMA in text:
            path.write_text(text.replace(_REPO_SCHEMA, f"./{SCHEMA_DIR}/"), encoding="utf-8")
