"""Fetch the pages' JavaScript libraries at their pinned versions and verify them.

    python scripts/vendor_assets.py           # re-fetch into journeyctl/pages/vendor/
    python scripts/vendor_assets.py --check   # only verify the vendored files' checksums

The pins are journeyctl/pages/vendor/manifest.json (name, version, the registry's tarball and
its integrity, each copied file's sha256). `npm pack NAME@VERSION` downloads the tarball with
npm's own client (registry, proxy and cache settings as the user has them); its integrity
must equal the pin, then each file is copied out and must match its sha256. A mismatch stops
with nothing replaced, so a changed upstream tarball never slips into the package.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "journeyctl" / "pages" / "vendor"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(manifest: dict[str, dict], vendor: Path = VENDOR) -> list[str]:
    problems = []
    for name, pin in manifest.items():
        for file, spec in pin["files"].items():
            path = vendor / file
            if not path.is_file():
                problems.append(f"{name}: {file} is missing")
            elif sha256(path.read_bytes()) != spec["sha256"]:
                problems.append(f"{name}: {file} does not match its pinned sha256")
    return problems


def fetch(manifest: dict[str, dict]) -> None:
    staged: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, pin in manifest.items():
            spec = f"{name}@{pin['version']}"
            done = subprocess.run(
                ["npm", "pack", spec, "--json", "--pack-destination", tmp],
                capture_output=True, text=True, cwd=tmp,
            )  # fmt: skip
            if done.returncode != 0:
                sys.exit(f"npm pack {spec} failed:\n{done.stderr}")
            tarball = Path(tmp) / json.loads(done.stdout)[0]["filename"]
            algo, _, want = pin["integrity"].partition("-")
            got = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
            if got != want:
                sys.exit(f"{spec}: the tarball's integrity differs from the pin; nothing replaced")
            with tarfile.open(tarball) as tar:
                for file, fspec in pin["files"].items():
                    member = tar.extractfile(fspec["from"])
                    if member is None:
                        sys.exit(f"{spec}: {fspec['from']} is not in the tarball")
                    data = member.read()
                    if sha256(data) != fspec["sha256"]:
                        sys.exit(
                            f"{spec}: {fspec['from']} has sha256 {sha256(data)}, "
                            f"not the pinned {fspec['sha256']}; nothing replaced"
                        )
                    staged[file] = data
    for file, data in staged.items():
        (VENDOR / file).write_bytes(data)
        print(f"vendored {file} ({len(data)} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the vendored files")
    parser.add_argument(
        "--dir", type=Path, help="with --check: the vendor folder to verify (e.g. an installed one)"
    )
    args = parser.parse_args()
    vendor = args.dir if args.check and args.dir else VENDOR
    manifest = json.loads((vendor / "manifest.json").read_text(encoding="utf-8"))
    if not args.check:
        fetch(manifest)
    problems = check(manifest, vendor)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("vendored files match manifest.json")


if __name__ == "__main__":
    main()
