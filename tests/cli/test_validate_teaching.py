"""`journeyctl validate` errors that teach (issue 17): as a user runs it, the exact diagnostics.

A mistake in journey.yaml is reported once with a count of what follows from it, at the key
itself, with a did-you-mean from the mapping's own keys; expression mistakes the sandbox would
refuse are located errors, never an internal error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()


def validate(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["validate", *args], env={"NO_COLOR": "1", "COLUMNS": "200"})
    return r.exit_code, r.stderr


def located(stderr: str) -> list[str]:
    """The `file:line:col: level[code]: message` lines of a text rendering."""
    return [line for line in stderr.splitlines() if "]: " in line and not line.startswith(" ")]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


JOURNEY = """
    unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
    contacts:
      fields: {consent_email: bool}
    channels:
      email: {type: file, path: outbox/, medium: email}
    """


def test_constant_folded_private_attribute_is_a_located_error(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "journey.yaml": JOURNEY,
            "hello.yaml": """
                trigger: {event: subscribed}
                ad: false
                audience: "(contact.consent_email if none.__class__ else 1)"
                steps:
                  - send: hello
                    subject: hi
                    body: hello
                """,
        },
    )
    code, err = validate("proj")
    assert code == 1, err
    assert "internal error" not in err
    assert located(err) == [
        "proj/hello.yaml:3:43: error[unsafe-attribute]: '__class__' is refused by the sandbox"
        " (names starting with _ are private)"
    ]
