"""The readers' fast constructors make exactly what the dataclass constructors make.

The builders set the attributes' descriptors of either model: the dataclass slots of the
Python source, or the compiled classes' own (data/build.py). They are checked in this process
and in a pure-Python interpreter as well (tests/engines.py), whichever engine this one runs.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from journeyctl.data import build
from journeyctl.engine.model import Contact, Event
from tests.engines import pure_env

ROOT = Path(__file__).resolve().parents[2]


def check_contact() -> None:
    fast = build.contact("c1", "a@x.com", "+821012345678", "김", "Asia/Seoul", {"vip": True})
    slow = Contact("c1", "a@x.com", "+821012345678", "김", "Asia/Seoul", {"vip": True})
    assert fast == slow and repr(fast) == repr(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.id = "c2"  # type: ignore[misc]


def check_event() -> None:
    at = datetime(2026, 1, 5, tzinfo=UTC)
    fast = build.event("c1", "purchased", at, (("amount", "1"),))
    slow = Event("c1", "purchased", at, (("amount", "1"),))
    assert fast == slow and hash(fast) == hash(slow) and fast.enrolls is True
    assert fast.natural_key == slow.natural_key


def test_contact_equals_the_dataclass_constructor() -> None:
    check_contact()


def test_event_equals_the_dataclass_constructor() -> None:
    check_event()


def test_the_pure_builders_equal_the_dataclass_constructors() -> None:
    assert build.contact is not Contact and build.event is not Event
    if not build.NATIVE_MODEL:
        return  # the two tests above ran the builders on the pure model
    code = (
        "from journeyctl.data import build\n"
        "from tests.data.test_build import check_contact, check_event\n"
        "assert not build.NATIVE_MODEL, 'the engine source should give the pure model'\n"
        "check_contact()\n"
        "check_event()\n"
    )
    env = pure_env()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
