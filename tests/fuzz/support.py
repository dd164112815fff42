"""What every fuzz target shares: the profile, a hang guard, and the saved corpus.

A target is a `check_*` function taking one concrete input (the bytes of a file, or a JSON
object for structured targets); the hypothesis property and the corpus replay both call it,
so a saved case is checked exactly as it was found.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings

from journeyctl.diagnostics import Diagnostic, Location

F = TypeVar("F", bound=Callable[..., Any])

CORPUS = Path(__file__).parent / "corpus"
LONG = os.environ.get("JOURNEYCTL_FUZZ", "").lower() == "long"
# A hang is a failure: one input must be handled well inside this (the slowest examples take
# a fraction of a second on the CI machine).
HANG_SECONDS = 20.0


def fuzz(test: F) -> F:
    """Apply the suite's profile (registered in conftest.py) to a property."""
    from tests.fuzz.conftest import LONG as LONG_PROFILE
    from tests.fuzz.conftest import SHORT

    return settings(settings.get_profile(LONG_PROFILE if LONG else SHORT))(test)


class Hang(AssertionError):
    pass


@contextmanager
def no_hang(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail (instead of waiting for ever) when the body runs longer than `seconds`."""

    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_located(d: Diagnostic, path: Path, lines: int) -> None:
    """A diagnostic points into `path` (as shown), at a line of the file and a column >= 1."""
    loc = d.location
    assert isinstance(loc, Location), d
    assert Path(loc.path).name == path.name, f"{d} is not located in {path.name}"
    assert 1 <= loc.line <= max(lines, 1), f"{d}: line outside the file's {lines} lines"
    assert loc.col >= 1, d
    assert d.code and d.message, d


def line_count(data: bytes) -> int:
    """Lines as an editor counts them (any of CRLF, CR, LF ends one), at least 1."""
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return text.count(b"\n") + 1


def corpus_cases(target: str) -> list[Path]:
    """The saved inputs of one target (`corpus/<target>/*`), replayed in every run."""
    folder = CORPUS / target
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def load_json_case(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def outcome(name: str) -> None:
    """Count an outcome in `--hypothesis-show-statistics` (a no-op when replaying the corpus)."""
    from hypothesis import event
    from hypothesis.errors import InvalidArgument

    try:
        event(name)
    except InvalidArgument:  # not inside a hypothesis test
        pass
