"""`journeyctl validate` errors that teach (issue 17): as a user runs it, the exact diagnostics.

A mistake in journey.yaml is reported once with a count of what follows from it, at the key
itself, with a did-you-mean from the mapping's own keys; expression mistakes the sandbox would
refuse are located errors, never an internal error.
"""

from __future__ import annotations

import re
import shutil
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


STOCK = Path(__file__).parents[2] / "sequences"


def stock_with(tmp: Path, old: str, new: str) -> Path:
    proj = tmp / "shop"
    shutil.copytree(STOCK, proj, ignore=shutil.ignore_patterns("tests"))
    journey = proj / "journey.yaml"
    text = journey.read_text(encoding="utf-8")
    assert old in text
    journey.write_text(text.replace(old, new, 1), encoding="utf-8")
    return proj


def test_quiet_hour_typo_in_the_stock_library_is_one_error_at_the_key(in_tmp: Path) -> None:
    stock_with(in_tmp, "\nquiet_hours:", "\nquiet_hour:")
    code, err = validate("shop")
    assert code == 1
    assert located(err) == ["shop/journey.yaml:7:1: error[unknown-key]: unknown key 'quiet_hour'"]
    assert (
        "  hint: did you mean `quiet_hours`? keys here: timezone, quiet_hours, frequency_cap,"
        " compliance, sender, contacts, channels, late, events, report, unsubscribe_url,"
        " unsubscribe_secret, http\n"
    ) in err
    assert err.endswith("1 error(s), 0 warning(s)\n")


def test_a_damaged_section_counts_what_follows_from_it_and_comes_first(in_tmp: Path) -> None:
    proj = stock_with(in_tmp, "\n  fields:\n", "\n  field:\n")
    (proj / "welcome.yaml").write_text(
        (proj / "welcome.yaml").read_text(encoding="utf-8").replace("channel:", "chanel:", 1),
        encoding="utf-8",
    )
    code, err = validate("shop")
    assert code == 1
    lines = located(err)
    assert lines[0].startswith(
        "shop/journey.yaml:29:3: error[unknown-key]: unknown key 'field' (and "
    )
    assert lines[0].endswith(" errors that follow from it)")
    assert "hint: did you mean `fields`? keys here: fields, night_consent" in err
    # the sequence's own mistake is reported in the same round, at the key
    assert len(lines) == 2
    assert re.fullmatch(
        r"shop/welcome\.yaml:\d+:5: error\[unknown-key\]: unknown key 'chanel'", lines[1]
    )
    assert "hint: did you mean `channel`? keys here: send, channel, subject," in err


def test_unknown_step_key_points_at_the_key_with_the_keys_of_that_step(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "journey.yaml": JOURNEY,
            "hello.yaml": """
                trigger: {event: subscribed}
                ad: false
                steps:
                  - send: hello
                    chanel: email
                    subject: hi
                    body: hello
                  - wait_for: {event: purchased, timout: 2d}
                """,
        },
    )
    code, err = validate("proj")
    assert code == 1
    assert located(err) == [
        "proj/hello.yaml:5:5: error[unknown-key]: unknown key 'chanel'",
        "proj/hello.yaml:8:34: error[unknown-key]: unknown key 'timout' (and 1 error that follows"
        " from it)",
    ]
    assert (
        "  hint: did you mean `channel`? keys here: send, channel, subject, template,"
        " text_template, body, window, on_cap\n"
    ) in err
    assert "  hint: did you mean `timeout`? keys here: event, timeout, where\n" in err


def test_a_response_read_before_it_can_happen_is_flagged(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "journey.yaml": JOURNEY,
            "hello.yaml": """
                trigger: {event: subscribed}
                ad: false
                goal: {event: purchased, within: 1d}
                steps:
                  - send: hello
                    subject: hi
                    body: hello
                  - branch:
                      if: "opened('hello')"
                      then:
                        - wait: 2d
                        - send: thanks
                          subject: thanks
                          body: thanks
                """,
        },
    )
    code, err = validate("proj", "--strict")
    assert code == 1
    assert located(err) == [
        "proj/hello.yaml:3:34: warning[impossible-timing]: goal window 1d is shorter than the"
        " wait before send 'thanks' (2d, line 12): conversions after it are not counted",
        "proj/hello.yaml:9:12: warning[response-too-soon]: opened('hello') is always false here:"
        " no wait lies between sending 'hello' (line 5) and this branch",
    ]
    assert (
        "  hint: add a wait after 'hello' (e.g. `- wait: 2d`), or wait for the response:"
        " `wait_for: {event: opened, timeout: 2d}`\n"
    ) in err


def test_a_journey_yaml_that_does_not_parse_is_the_only_error_shown(in_tmp: Path) -> None:
    stock_with(in_tmp, "\nchannels:\n", "\nchannels: [\n")
    code, err = validate("shop")
    assert code == 1
    lines = located(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("shop/journey.yaml:")
    assert "error[yaml-syntax]" in lines[0]
    assert lines[0].endswith(" errors that follow from it)")


def test_a_typo_does_not_hide_the_sequences_other_mistakes(in_tmp: Path) -> None:
    build_tree(
        in_tmp / "proj",
        {
            "journey.yaml": JOURNEY,
            "hello.yaml": """
                trigger: {event: subscribed}
                ad: false
                steps:
                  - send: hello
                    chanel: emial
                    subject: "hi {{ contact.nmae }}"
                    body: hello
                """,
        },
    )
    code, err = validate("proj")
    assert code == 1
    # one round: the typo, the channel it names (read as `channel:`), the field
    assert located(err) == [
        "proj/hello.yaml:4:5: error[unknown-channel]: channel 'emial' is not configured"
        " (channels: email)",
        "proj/hello.yaml:5:5: error[unknown-key]: unknown key 'chanel'",
        "proj/hello.yaml:6:21: error[undeclared-field]: contact field 'nmae' is not declared",
    ]
