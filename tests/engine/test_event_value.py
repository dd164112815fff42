"""`event` as templates and conditions see it is made once per event and zone (the engine's
Evaluator keeps the last one): asked again it is the same value, and another event or another
zone gets its own."""

from __future__ import annotations

from pathlib import Path

from journeyctl.engine.evaluate import Evaluator
from journeyctl.engine.event_scope import EventFields
from tests.builders import BERLIN, KST, at, event, make_project

JOURNEY = """
timezone: Asia/Seoul
events:
  fields:
    cart_abandoned: {items: list, total: int}
channels:
  email: {type: file, path: outbox/, medium: email}
"""


def test_the_same_event_is_read_once_and_each_event_and_zone_gets_its_own(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path, {}, JOURNEY)
    evaluator = Evaluator(EventFields(project.settings))
    first = event("c1", "cart_abandoned", at("2026-11-01 09:00"), items="a|b", total="3")
    second = event("c1", "cart_abandoned", at("2026-11-02 09:00"), items="c", total="4")

    seen = evaluator.event_value(first, KST)
    assert seen == {
        "name": "cart_abandoned",
        "at": first.at.astimezone(KST),
        "items": ["a", "b"],
        "total": 3,
    }
    assert evaluator.event_value(first, KST) is seen  # parsed once
    in_berlin = evaluator.event_value(first, BERLIN)  # the same event, another zone
    assert in_berlin["at"].tzinfo is BERLIN
    assert in_berlin["at"] == first.at
    assert evaluator.event_value(first, KST)["at"].tzinfo is KST
    assert evaluator.event_value(second, KST)["items"] == ["c"]
    assert evaluator.event_value(first, KST) == seen
