"""Hostile project YAML (issue 14, item 1): each answers at once with a located error, never a
hang, a traceback or an internal error. Limits: docs/DECISIONS.md, "Hostile project files"."""

from __future__ import annotations

from pathlib import Path

from journeyctl.spec.yamlsrc import MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from tests.hostile.common import HELLO, JOURNEY, assert_no_trace, journeyctl, project


def _bomb(levels: int) -> str:
    """A "billion laughs": each level is 9 aliases of the one before (9**levels values)."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_where_it_explodes(tmp_path: Path) -> None:
    root = project(tmp_path, {"bomb.yaml": HELLO + _bomb(9)})
    r = journeyctl("validate", root)
    assert_no_trace(r)
    assert r.code == 1
    # 9 + 81 + 729 + 6561 values are within the budget; the 5th level's first alias is not
    assert "bomb.yaml:11:10: error[yaml-limit]: too many aliases" in r.stderr


def test_alias_bomb_in_journey_yaml_stops_run_before_anything(tmp_path: Path) -> None:
    root = project(tmp_path, {"hello.yaml": HELLO})
    (root / "journey.yaml").write_text(JOURNEY + _bomb(9), encoding="utf-8")
    r = journeyctl("run", root, "--db", tmp_path / "j.db", "--now", "2026-11-02T10:00:00+09:00")
    assert_no_trace(r)
    assert r.code == 1
    assert "journey.yaml:" in r.stderr and "error[yaml-limit]: too many aliases" in r.stderr
    assert not (tmp_path / "j.db").exists()


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    text = """\
        trigger: {event: subscribed}
        ad: false
        steps:
          - send: hello
            subject: &s hi
            body: *s
          - wait: 1d
          - send: again
            subject: *s
            body: *s
        """
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": text}))
    assert r.code == 0, r.output


def test_too_many_aliases_even_small_ones(tmp_path: Path) -> None:
    text = HELLO + "x: &x 1\ny: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n"
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": text}))
    assert_no_trace(r)
    assert "hello.yaml:8:" in r.stderr and "error[yaml-limit]: too many aliases" in r.stderr


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": HELLO + "x: &a [1, *a]\n"}))
    assert_no_trace(r)
    assert "hello.yaml:7:11: error[yaml-limit]: alias *a refers to the value it is part of" in (
        r.stderr
    )


def test_deep_nesting_is_a_located_error(tmp_path: Path) -> None:
    for name, text in {
        "flow.yaml": HELLO + "x: " + "[" * 600 + "]" * 600 + "\n",
        "block.yaml": HELLO
        + "".join(f"{'  ' * i}k{i}:\n" for i in range(200))
        + "  " * 200
        + "v\n",
        "mapping.yaml": HELLO + "x: " + "{a: " * 600 + "1" + "}" * 600 + "\n",
    }.items():
        r = journeyctl("validate", project(tmp_path / name, {name: text}))
        assert_no_trace(r)
        assert f"error[yaml-limit]: nested deeper than {MAX_DEPTH} levels" in r.stderr, r.output
        assert f"{name}:" in r.stderr


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = HELLO + "x:\n" + "- aaaaaaaaaaaaaaaaaaaaaaaa\n" * (50 * 1024 * 1024 // 27)  # ~50 MB
    root = project(tmp_path, {"big.yaml": big})
    r = journeyctl("validate", root)
    assert_no_trace(r)
    assert "big.yaml:1:1: error[yaml-limit]: the file is 50.0 MiB" in r.stderr
    assert f"limited to {MAX_FILE_BYTES // 1024} KiB" in r.stderr
    assert "aaaa" not in r.stderr  # not echoed either


def test_many_values_under_the_size_limit_are_refused(tmp_path: Path) -> None:
    text = HELLO + "x: [" + "1," * (MAX_NODES + 10) + "]\n"
    assert len(text.encode()) < MAX_FILE_BYTES
    r = journeyctl("validate", project(tmp_path, {"many.yaml": text}))
    assert_no_trace(r)
    assert "many.yaml:7:" in r.stderr
    assert f"error[yaml-limit]: more than {MAX_NODES} values in one file" in r.stderr


def test_python_and_other_exotic_tags_are_refused(tmp_path: Path) -> None:
    cases = {
        "apply.yaml": "trigger: !!python/object/apply:os.system ['echo pwned']\n",
        "object.yaml": "trigger: !!python/object:builtins.dict {event: x}\n",
        "name.yaml": "trigger: !!python/name:os.system\n",
        "local.yaml": "trigger: !secret {event: x}\n",
        "binary.yaml": "trigger: {event: !!binary aGk=}\n",
        "set.yaml": "trigger: !!set {a, b}\n",
    }
    for name, text in cases.items():
        r = journeyctl("validate", project(tmp_path / name, {name: text}))
        assert_no_trace(r)
        assert r.code == 1
        assert f"{name}:1:" in r.stderr and "error[unsupported-tag]: the tag" in r.stderr, name
        assert "pwned" not in r.stdout


def test_plain_tags_are_fine(tmp_path: Path) -> None:
    text = HELLO.replace("subject: hi", "subject: !!str 10:00")
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": text}))
    assert r.code == 0, r.output


def test_binary_file_is_a_located_error(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"
    root = project(tmp_path, {"logo.yaml": png, "nul.yaml": HELLO.encode() + b"x: a\x00b\n"})
    r = journeyctl("validate", root)
    assert_no_trace(r)
    assert "logo.yaml:3:1: error[bad-encoding]: binary data (a NUL byte at byte 8)" in r.stderr
    assert "nul.yaml:7:5: error[bad-encoding]: binary data (a NUL byte at byte" in r.stderr


def test_control_character_is_located(tmp_path: Path) -> None:
    r = journeyctl("validate", project(tmp_path, {"bell.yaml": HELLO + "x: a\x07b\n"}))
    assert_no_trace(r)
    assert "bell.yaml:7:5: error[bad-encoding]: control character U+0007" in r.stderr


def test_tabs_are_a_located_error(tmp_path: Path) -> None:
    text = "trigger: {event: subscribed}\nsteps:\n\t- send: hello\n\t  subject: hi\n"
    r = journeyctl("validate", project(tmp_path, {"tabs.yaml": text}))
    assert_no_trace(r)
    assert "tabs.yaml:3:1: error[yaml-syntax]" in r.stderr
    assert "hint: YAML does not allow tabs for indentation; use spaces" in r.stderr


def test_leading_zero_numbers_stay_text(tmp_path: Path) -> None:
    """`09` and `0805000000` were read as octal (a ValueError: exit 3), `0755` silently as 493."""
    journey = JOURNEY + "sender: {name: Shop, opt_out_phone: 0805000000}\n"
    text = HELLO + "  - wait: 09\n"
    root = project(tmp_path, {"journey.yaml": journey, "hello.yaml": text})
    r = journeyctl("validate", root)
    assert_no_trace(r)
    assert "hello.yaml:7:11: error[bad-duration]: '09' is not a duration" in r.stderr
    assert "journey.yaml" not in r.stderr  # the phone number is the text it looks like
    from journeyctl.spec.loader import load_settings

    settings, _ = load_settings(root)
    assert settings.sender.opt_out_phone == "0805000000"


def test_huge_integer_is_a_located_error(tmp_path: Path) -> None:
    text = HELLO + "x: " + "9" * 5000 + "\n"
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": text}))
    assert_no_trace(r)
    assert "hello.yaml:7:4: error[bad-value]: '9999" in r.stderr
    assert "is not a whole number (decimal, up to 100 digits)" in r.stderr


def test_empty_sequence_id_is_a_located_error(tmp_path: Path) -> None:
    for name, text in {"empty.yaml": "sequence:\n", "tilde.yaml": "sequence: ~\n"}.items():
        r = journeyctl("validate", project(tmp_path / name, {name: text + HELLO}))
        assert_no_trace(r)
        assert f"{name}:1:" in r.stderr and "error[bad-value]: sequence: the id is empty" in (
            r.stderr
        )
