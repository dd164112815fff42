"""The project fingerprint: a digest of the files `run` loads. The manifest carries it
(spec.load_valid_project hashes the files before loading them): a held contact waits for it to
change, the template cache keys on it, and a full run records it so the idle cron minute can
tell, without loading the project, that nothing changed since.

What it covers and when the idle minute falls back: docs/DECISIONS.md ("Run: the idle
minute ...", "Run: what the idle fingerprint covers"). Stdlib only, and only cheap modules:
every import here is paid on every cron minute.
"""

from __future__ import annotations

import os

try:  # the builtin module: hashlib would load OpenSSL first for the same digest
    from _sha256 import sha256
except ImportError:  # Python 3.12 renamed it
    from hashlib import sha256

from journeyctl import __version__
from journeyctl.spec.files import PROJECT_FILE, TEMPLATES_DIR, is_sequence_name

# Bump when what the fingerprint means changes: every stored one then mismatches (falls back).
# 2: the database schema version moved out of the digest into the stored value (meta_value).
FORMAT = 2
# The meta row a full run records it under, with the project's timezone (meta_value).
META_KEY = "fastpath.fingerprint"


class FingerprintError(Exception):
    """The project's files cannot be fingerprinted for sure; the message says why."""


def project_fingerprint(root: str | os.PathLike[str]) -> str:
    """sha256 over what `run` loads: journey.yaml, the top-level sequence files and every file
    under templates/ (names and bytes), plus the journeyctl version, FORMAT and the project's
    absolute path. FingerprintError when a file cannot be hashed for sure.

    The same selection as spec.loader (spec.files) and the template loader (any file under
    templates/, symlinks followed as Jinja follows them).
    """
    root = os.fspath(root)
    head = f"journeyctl {__version__}\0fastpath {FORMAT}\0{os.path.abspath(root)}"
    parts = [head.encode("utf-8", "surrogateescape")]
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise FingerprintError(f"cannot list the project directory: {exc}") from None
    for entry in entries:
        name = entry.name
        if name == PROJECT_FILE or is_sequence_name(name):
            if not entry.is_file():
                if name == PROJECT_FILE or entry.is_dir():
                    raise FingerprintError(f"{name} is not a regular file")
                continue
            _add_file(parts, name, entry.path)
    _add_tree(parts, os.path.join(root, TEMPLATES_DIR), TEMPLATES_DIR, set())
    return str(sha256(b"".join(parts)).hexdigest())


def unchanged_fingerprint(root: str | os.PathLike[str], before: str | None) -> str | None:
    """`before` (hashed before the project was loaded) if the files still hash the same, so
    it describes what was loaded; else None."""
    if before is None:
        return None
    try:
        after = project_fingerprint(root)
    except FingerprintError:
        return None
    return before if after == before else None


def meta_value(fingerprint: str, schema: int, timezone: str) -> str:
    """What a full run stores under META_KEY: the fingerprint, the database `schema` version
    it ran on (the caller's: the store owns it) and the project's timezone."""
    return f"{fingerprint} {schema} {timezone}"


def parse_meta_value(value: str | None) -> tuple[str, str, str]:
    """(fingerprint, schema, timezone) of a stored META_KEY value; empty strings when there
    is none."""
    fingerprint, _, rest = (value or "").partition(" ")
    schema, _, timezone = rest.partition(" ")
    return fingerprint, schema, timezone


def _add_file(parts: list[bytes], rel: str, path: str) -> None:
    try:
        with open(path, "rb") as fh:
            digest: bytes = sha256(fh.read()).digest()
    except OSError as exc:
        raise FingerprintError(f"cannot read {rel}: {exc}") from None
    parts.append(b"\0F" + rel.encode("utf-8", "surrogateescape") + b"\0" + digest)


def _add_tree(parts: list[bytes], path: str, rel: str, seen: set[tuple[int, int]]) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FingerprintError(f"cannot stat {rel}: {exc}") from None
    if (st.st_dev, st.st_ino) in seen:
        raise FingerprintError(f"{rel}: a symlink loop")
    seen = seen | {(st.st_dev, st.st_ino)}
    parts.append(b"\0D" + rel.encode("utf-8", "surrogateescape"))
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except NotADirectoryError:
        raise FingerprintError(f"{rel} is not a directory") from None
    except OSError as exc:
        raise FingerprintError(f"cannot list {rel}: {exc}") from None
    for entry in entries:
        sub = f"{rel}/{entry.name}"
        if entry.is_dir():
            _add_tree(parts, entry.path, sub, seen)
        elif entry.is_file():
            _add_file(parts, sub, entry.path)
        else:  # a FIFO, socket or broken link: reading could block or mean anything
            raise FingerprintError(f"{sub} is not a regular file")
