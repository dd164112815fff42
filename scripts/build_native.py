"""Compile the engine's hot modules with mypyc into journeyctl/engine/_native/.

    python scripts/build_native.py [--optional] [--force]

`--optional`: without a working compiler, say so and leave the engine pure Python (it is the
same code, about 1.9x slower) instead of failing. The build goes to a temporary directory
beside `_native/` and replaces it by a rename only when complete, digest written last, so a
failed or interrupted build never leaves a half-built engine in use (journeyctl.engine.native).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["JOURNEYCTL_PURE"] = "1"  # import the engine's source, never an older build

from journeyctl.engine import native  # noqa: E402


def build(out: Path, work: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import Distribution

    os.chdir(ROOT)  # module names come from the paths; mypy reads pyproject's [tool.mypy]
    paths = [str(p.relative_to(ROOT)) for p in native.sources()]
    extensions = mypycify(paths, opt_level="3", group_name=native.GROUP, target_dir=str(work / "c"))
    # A bare Distribution: setuptools must not read pyproject.toml (hatchling's project).
    dist = Distribution({"name": "journeyctl-native", "ext_modules": extensions})
    dist.script_name = "build_native"
    dist.script_args = [
        "--quiet",
        "build_ext",
        "--build-lib",
        str(out),
        "--build-temp",
        str(work / "o"),
    ]
    dist.parse_command_line()
    dist.run_commands()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optional", action="store_true", help="no compiler: stay pure Python")
    ap.add_argument("--force", action="store_true", help="rebuild even when current")
    args = ap.parse_args()
    digest = native.source_digest()
    if not args.force and native.built_digest() == digest:
        return 0  # current: nothing to do
    # Staged beside its destination (same filesystem), so moving it in is one rename.
    with tempfile.TemporaryDirectory(prefix=".native-build-", dir=native.HERE) as tmp:
        work = Path(tmp)
        staged = work / "native"
        try:
            build(staged, work)
        except (Exception, SystemExit) as exc:
            if not args.optional:
                raise
            print(f"engine not compiled ({exc}); it runs as pure Python", file=sys.stderr)
            return 0
        if native.source_digest() != digest:
            print("the engine's sources changed during the build: run it again", file=sys.stderr)
            return 1
        (staged / "SOURCES").write_text(digest + "\n", encoding="ascii")
        old = native.NATIVE_DIR.with_name("_native.old")
        shutil.rmtree(old, ignore_errors=True)
        if native.NATIVE_DIR.exists():
            native.NATIVE_DIR.rename(old)
        staged.rename(native.NATIVE_DIR)
        shutil.rmtree(old, ignore_errors=True)
    print(f"engine compiled: {', '.join(native.COMPILED)} -> {native.NATIVE_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
