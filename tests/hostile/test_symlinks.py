"""Project files are never read through a symlink that leaves the project (issue 14, item 4):
journey.yaml, sequence files, templates and their includes. Refused with a located error, and
the target's content never reaches the output (an AWS key in a linked .env must not print)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jinja2 import TemplateRuntimeError

from journeyctl.spec.templates import template_environment
from tests.hostile.common import CONTACTS, HELLO, JOURNEY, assert_no_trace, journeyctl, project

SECRET = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
KEY = "wJalrXUtnFEMI"
SEND_TEMPLATE = """\
trigger: {event: subscribed}
ad: false
steps:
  - send: hello
    subject: hi
    template: hello.txt
"""

if not hasattr(os, "symlink"):  # pragma: no cover
    pytest.skip("no symlinks here", allow_module_level=True)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the project folder (tmp_path / "p")."""
    env = tmp_path / "home" / ".env"
    env.parent.mkdir()
    env.write_text(SECRET, encoding="utf-8")
    return env


def _no_leak(*texts: str) -> None:
    for text in texts:
        assert KEY not in text


def _validate_all_formats(root: Path) -> str:
    out = []
    for fmt in ("text", "json", "github"):
        r = journeyctl("validate", root, "--format", fmt)
        assert_no_trace(r)
        assert r.code == 1, r.output
        _no_leak(r.stdout, r.stderr)
        out.append(r.output)
    return "\n".join(out)


def test_sequence_file_linked_to_a_dotenv_is_refused_unread(tmp_path: Path, outside: Path) -> None:
    root = project(tmp_path / "p", {"hello.yaml": HELLO})
    (root / "leak.yaml").symlink_to(outside)
    text = _validate_all_formats(root)
    assert "leak.yaml:1:1: error[symlink-outside]: leak.yaml is a symlink to a file outside" in text
    doc = json.loads(journeyctl("validate", root, "--format", "json").stdout)
    assert [d["code"] for d in doc["diagnostics"]] == ["symlink-outside"]


def test_journey_yaml_linked_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    root = project(tmp_path / "p", {"hello.yaml": HELLO})
    (root / "journey.yaml").unlink()
    (root / "journey.yaml").symlink_to(outside)
    text = _validate_all_formats(root)
    assert "journey.yaml:1:1: error[symlink-outside]: journey.yaml is a symlink" in text
    r = journeyctl("run", root, "--db", tmp_path / "j.db")
    assert_no_trace(r)
    assert r.code == 1
    _no_leak(r.output)


def test_validate_of_a_linked_file_argument(tmp_path: Path, outside: Path) -> None:
    root = project(tmp_path / "p", {"hello.yaml": HELLO})
    (root / "leak.yaml").symlink_to(outside)
    r = journeyctl("validate", root / "leak.yaml")
    assert_no_trace(r)
    assert "leak.yaml:1:1: error[symlink-outside]" in r.stderr
    _no_leak(r.output)


def test_template_linked_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    root = project(tmp_path / "p", {"hello.yaml": SEND_TEMPLATE})
    (root / "templates").mkdir()
    (root / "templates" / "hello.txt").symlink_to(outside)
    text = _validate_all_formats(root)
    # located at the reference in the sequence file, which is inside the project
    assert (
        "hello.yaml:6:15: error[symlink-outside]: template 'hello.txt' is a symlink to a file "
        "outside the project: not read"
    ) in text
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    r = journeyctl("preview", root, "hello", "hello", "--contacts", tmp_path / "contacts.csv",
                   "--contact", "c1")  # fmt: skip
    assert_no_trace(r)
    assert r.code == 1
    _no_leak(r.output)


def test_include_linked_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    root = project(
        tmp_path / "p",
        {"hello.yaml": SEND_TEMPLATE, "templates/hello.txt": "hi\n{% include 'footer.txt' %}\n"},
    )
    (root / "templates" / "footer.txt").symlink_to(outside)
    text = _validate_all_formats(root)
    assert "templates/hello.txt:2:13: error[symlink-outside]: template 'footer.txt'" in text


def test_templates_folder_linked_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "hello.txt").write_text("{{ contact.email }} " + SECRET, encoding="utf-8")
    root = project(tmp_path / "p", {"hello.yaml": SEND_TEMPLATE})
    (root / "templates").symlink_to(elsewhere, target_is_directory=True)
    text = _validate_all_formats(root)
    assert "hello.yaml:6:15: error[symlink-outside]: template 'hello.txt'" in text


def test_the_template_loader_refuses_too(tmp_path: Path, outside: Path) -> None:
    """Defence in depth: rendering never reads through such a link even without validate."""
    templates = tmp_path / "p" / "templates"
    templates.mkdir(parents=True)
    (templates / "hello.txt").symlink_to(outside)
    with pytest.raises(TemplateRuntimeError, match="symlink to a file outside the project"):
        template_environment(templates).get_template("hello.txt")


def test_links_inside_the_project_still_work(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "shared/hello.yaml": SEND_TEMPLATE,
            "templates/real.txt": "hello {{ contact.email }}\n",
        },
    )
    (root / "hello.yaml").symlink_to(root / "shared" / "hello.yaml")
    (root / "templates" / "hello.txt").symlink_to("real.txt")
    r = journeyctl("validate", root)
    assert r.code == 0, r.output


def test_a_dangling_or_looping_link_is_no_crash(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"hello.yaml": HELLO})
    (root / "loop.yaml").symlink_to(root / "loop.yaml")
    (root / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    r = journeyctl("validate", root)
    assert_no_trace(r)
