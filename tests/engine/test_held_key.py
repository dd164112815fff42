"""A held enrollment's key starts with the project's fingerprint (spec.manifest), the one the
idle minute records and the template cache keys on: an edit to a template alone wakes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from journeyctl.engine.make import make_engine
from journeyctl.spec import fingerprint, load_valid_project
from journeyctl.spec.manifest import content_fingerprint
from tests.builders import build_tree

JOURNEY = "timezone: Asia/Seoul\nchannels:\n  email: {type: file, path: outbox/, medium: email}\n"
WELCOME = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi"
    template: hello.txt
"""


def _tree(tmp_path: Path) -> Path:
    build_tree(
        tmp_path,
        {"p/journey.yaml": JOURNEY, "p/welcome.yaml": WELCOME, "p/templates/hello.txt": "a"},
    )
    return tmp_path / "p"


def test_the_held_key_is_the_files_fingerprint_and_follows_a_template(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    engine = make_engine(load_valid_project(root))
    assert engine.project_digest() == fingerprint.project_fingerprint(root)
    assert engine.project_digest() == engine.project.manifest.fingerprint
    (root / "templates/hello.txt").write_text("b", encoding="utf-8")
    assert make_engine(load_valid_project(root)).project_digest() != engine.project_digest()


def test_the_idle_attempts_hash_is_used_as_given(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    project = load_valid_project(root, fingerprint="from-the-idle-attempt")
    assert make_engine(project).project_digest() == "from-the-idle-attempt"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_unhashable_files_fall_back_to_content_that_still_covers_templates(
    tmp_path: Path,
) -> None:
    root = _tree(tmp_path)
    os.mkfifo(root / "templates/pipe")  # the file hash refuses it: reading could block
    with pytest.raises(fingerprint.FingerprintError):
        fingerprint.project_fingerprint(root)
    project = load_valid_project(root)
    first = make_engine(project).project_digest()
    assert first == content_fingerprint(project)
    (root / "templates/hello.txt").write_text("b", encoding="utf-8")
    assert make_engine(load_valid_project(root)).project_digest() != first
