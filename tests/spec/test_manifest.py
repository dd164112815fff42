"""The manifest (spec.manifest): the frozen engine input a valid project becomes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from journeyctl.engine.advance import Engine
from journeyctl.spec import load_valid_project
from journeyctl.spec import manifest as mf
from journeyctl.spec.fingerprint import project_fingerprint
from journeyctl.spec.models import STEP_KINDS
from tests.builders import make_project

JOURNEY = """
timezone: Asia/Seoul
contacts:
  fields: {vip: bool}
channels:
  mail: {type: file, medium: email}
  text: {type: file, medium: sms}
"""
A = """
sequence: a
trigger: {event: signup}
steps:
  - send: hello
    subject: Hi
    body: hi
  - branch:
      if: "contact.vip"
      then:
        - send: vip
          channel: text
          body: v
      else:
        - wait: 1d
  - wait_for: {event: bought, timeout: 2d}
    on_event:
      - exit: bought
  - split:
      x: {weight: 1, steps: [{send: sx, subject: X, body: x}]}
      control: {weight: 1}
"""
B = """
sequence: b
trigger: {event: signup}
steps:
  - send: only
    subject: B
    body: b
"""


def test_kind_codes_are_positions_in_step_kinds() -> None:
    codes = {"send": mf.SEND, "wait": mf.WAIT, "branch": mf.BRANCH}
    codes |= {"split": mf.SPLIT, "wait_for": mf.WAIT_FOR, "exit": mf.EXIT}
    assert {k: STEP_KINDS[v] for k, v in codes.items()} == {k: k for k in codes}
    assert len(STEP_KINDS) == len(codes)


def test_steps_are_linked_and_resolved(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"a": A, "b": B}, JOURNEY)
    seq = project.manifest.sequences["a"]
    steps = seq.steps
    assert seq.first == "hello"
    assert [(s.id, s.kind_name, s.next) for s in steps.values()] == [
        ("hello", "send", "branch-1"),
        ("vip", "send", "wait_for-1"),
        ("wait-1", "wait", "wait_for-1"),
        ("branch-1", "branch", "wait_for-1"),
        ("exit-1", "exit", "split-1"),
        ("wait_for-1", "wait_for", "split-1"),
        ("sx", "send", None),
        ("split-1", "split", None),
    ]
    assert steps["branch-1"].children == {"then": "vip", "else": "wait-1"}
    assert steps["split-1"].children == {"x": "sx", "control": None}
    assert steps["wait_for-1"].children == {"on_event": "exit-1", "on_timeout": None}
    assert (steps["hello"].channel, steps["hello"].medium) == ("mail", "email")
    assert (steps["vip"].channel, steps["vip"].medium) == ("text", "sms")
    assert steps["vip"].path == ("steps", 1, "branch", "then", 0)
    assert steps["wait_for-1"].wait_event == "bought"
    assert steps["split-1"].weights == [("x", 1.0), ("control", 1.0)]
    # the engine walks these very objects
    (plan_a, _) = Engine(project).sequences
    assert plan_a.nodes is steps


def test_manifest_of_a_valid_project(tmp_path: Path) -> None:
    make_project(tmp_path, {"b": B, "a": A}, JOURNEY)
    project = load_valid_project(tmp_path)
    manifest = project.manifest
    assert list(manifest.sequences) == ["a", "b"]
    assert manifest.fingerprint == project_fingerprint(tmp_path)  # the files, hashed first
    assert load_valid_project(tmp_path, fingerprint="f1").manifest.fingerprint == "f1"
    assert manifest.sequences["a"].version == project.sequences["a"].version


def test_fingerprint_follows_the_content(tmp_path: Path) -> None:
    first = mf.content_fingerprint(make_project(tmp_path, {"a": A, "b": B}, JOURNEY))
    again = mf.content_fingerprint(make_project(tmp_path, {"a": A, "b": B}, JOURNEY))
    edited = mf.content_fingerprint(make_project(tmp_path, {"a": A, "b": B + "  - wait: 1d\n"}))
    assert first == again != edited


def test_a_narrowed_project_gets_its_own_manifest(tmp_path: Path) -> None:
    """`journeyctl test` runs a case on some sequences: a copy of the project with fewer."""
    project = make_project(tmp_path, {"a": A, "b": B}, JOURNEY)
    assert list(project.manifest.sequences) == ["a", "b"]
    only_b = replace(project, sequences={"b": project.sequences["b"]})
    assert list(only_b.manifest.sequences) == ["b"]
    assert [s.id for s in Engine(only_b).sequences] == ["b"]
