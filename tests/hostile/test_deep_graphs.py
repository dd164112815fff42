"""Deep structures that pass each limit on their own but are deep in total (review findings):
aliases chaining nested lists in YAML, and a JSON Lines value nested 400 deep holding an
escaped NUL or lone surrogate. A located error, never a RecursionError (exit 3)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app

_register()
runner = CliRunner()


def test_aliases_chaining_nested_lists_are_walked_once(tmp_path: Path) -> None:
    lines = ["sequence: s", "trigger: {event: subscribed}", "steps:", "  - send: hello",
             "    subject: hi", "    body: hello"]  # fmt: skip
    for i in range(17):
        inner = f"*a{i - 1}" if i else "1"
        lines.append(f"k{i}: &a{i} " + "[" * 60 + inner + "]" * 60)
    (tmp_path / "s.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "journey.yaml").write_text("timezone: Asia/Seoul\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "s.yaml:7:1:" in result.output


def test_a_deep_json_lines_value_with_a_nul_or_a_surrogate_is_located(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "journey.yaml").write_text("timezone: Asia/Seoul\n", encoding="utf-8")
    for name, escape in (("nul", "\\u0000"), ("surrogate", "\\udc80")):
        data = tmp_path / f"{name}.jsonl"
        nested = "[" * 400 + f'"{escape}"' + "]" * 400
        data.write_text('{"id":"c1","email":"a@b.co","x":' + nested + "}\n", encoding="utf-8")
        result = runner.invoke(app, ["validate", str(tmp_path / "p"), "--contacts", str(data)])
        assert result.exit_code == 1, result.output
        assert f"{name}.jsonl:1:" in result.output and "error[bad-encoding]" in result.output
