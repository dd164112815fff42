"""The readers' fast constructors make exactly what the dataclass constructors make."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from journeyctl.data import build
from journeyctl.engine.model import Contact, Event


def test_contact_equals_the_dataclass_constructor() -> None:
    fast = build.contact("c1", "a@x.com", None, "김", "Asia/Seoul", {"vip": True})
    slow = Contact("c1", "a@x.com", None, "김", "Asia/Seoul", {"vip": True})
    assert fast == slow and repr(fast) == repr(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.id = "c2"  # type: ignore[misc]


def test_event_equals_the_dataclass_constructor() -> None:
    at = datetime(2026, 1, 5, tzinfo=UTC)
    fast = build.event("c1", "purchased", at, (("amount", "1"),))
    slow = Event("c1", "purchased", at, (("amount", "1"),))
    assert fast == slow and hash(fast) == hash(slow) and fast.enrolls is True
    assert fast.natural_key == slow.natural_key
