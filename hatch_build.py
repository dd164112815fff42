"""Hatchling build hook: the wheel carries the engine's hot modules compiled by mypyc.

Configured in pyproject.toml, `[tool.hatch.build.targets.wheel.hooks.custom]`: `compile` lists
the modules, `dependencies` what the build needs (docs/decisions/packaging.md says why this
hook and not the hatch-mypyc plugin). Each compiled module's `.so` goes into the wheel beside
its `.py`, which the import system then never reads. The build happens in a temporary
directory: the source tree is never written, so a checkout keeps running its Python source.
An editable install (`pip install -e .`) is the developer's pure-Python engine: not compiled.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

GROUP = "journeyctl_engine"  # the modules' shared library: top-level `journeyctl_engine__mypyc`


class CompiledEngineHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        modules = self.config.get("compile", [])
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            raise TypeError(
                "[tool.hatch.build.targets.wheel.hooks.custom] compile: a list of paths"
            )
        self._work = Path(tempfile.mkdtemp(prefix="journeyctl-mypyc-"))
        out = self._work / "lib"
        _compile(Path(self.root), modules, out, self._work)
        for built in sorted(out.rglob("*")):
            if built.is_file():
                build_data["force_include"][str(built)] = built.relative_to(out).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True  # cp311-cp311-<platform>: the .so files fit one interpreter

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _compile(root: Path, modules: list[str], out: Path, work: Path) -> None:
    """mypyc: the listed modules to C, one shared library, built into `out` (not the tree)."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    missing = [m for m in modules if not (root / m).is_file()]
    if missing:
        raise FileNotFoundError(f"modules to compile not found: {', '.join(missing)} (pyproject)")
    here = os.getcwd()
    os.chdir(root)  # module names come from the paths; mypy reads pyproject's [tool.mypy]
    try:
        extensions = mypycify(modules, opt_level="3", group_name=GROUP, target_dir=str(work / "c"))
        # A bare Distribution: setuptools must not read pyproject.toml (hatchling's project).
        dist = Distribution({"name": "journeyctl-engine", "ext_modules": extensions})
        dist.script_name = "hatch_build"
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
    finally:
        os.chdir(here)
    if not any(out.rglob("*.so")) and not any(out.rglob("*.pyd")):
        sys.exit("mypyc built no extension modules")
