"""`fate`: the engine's live-edit rules as `plan` reports them (engine.plan, one definition),
checked against what the engine does to the same enrollment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.engine.advance import Engine
from journeyctl.engine.model import ContactState, Enrollment, Outcome
from journeyctl.engine.plan import fate
from journeyctl.review.plan import enrolls_when
from tests.builders import at, contact, make_project

SEQ = """
sequence: s
trigger: {event: signup, where: "event.plan == 'pro'"}
migrate: {a: b, gone: nowhere}
steps:
  - send: b
    subject: B
    body: "b"
  - send: c
    subject: C
    body: "c"
"""


@pytest.mark.parametrize(
    ("position", "expected", "step_sent"),
    [
        ("a", ("move", "b", None), "b"),
        ("c", ("continue", None, None), "c"),
        ("gone", ("exit", None, "step_removed"), None),
        ("zzz", ("exit", None, "step_removed"), None),
    ],
)
def test_fate_agrees_with_the_engine(
    tmp_path: Path,
    position: str,
    expected: tuple[str, str | None, str | None],
    step_sent: str | None,
) -> None:
    project = make_project(tmp_path, {"s": SEQ})
    (seq,) = Engine(project).sequences
    assert fate(seq, position) == expected
    t = at("2026-11-02 10:00")
    enr = Enrollment("e1", "c1", "s", "old-version", t - timedelta(days=1), position, t)
    state = ContactState(contact("c1"), enrollments=[enr], cursor=t - timedelta(hours=1))
    Engine(project).advance(state, t)
    if expected[0] == "exit":
        assert (enr.outcome, enr.reason) == (Outcome.EXITED, expected[2])
        assert state.messages == []
    else:
        assert state.messages[0].step == step_sent


def test_removed_sequence_and_trigger_words(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"s": SEQ})
    assert fate(None, "b") == ("exit", None, "sequence_removed")
    assert fate(Engine(project).sequences[0], None) == ("continue", None, None)
    assert enrolls_when(project.manifest.sequences["s"]) == (
        "enrolls on the next `signup` event where event.plan == 'pro'"
    )
