"""Empty is empty (SPEC §5): an empty contact value prints as nothing, and `validate --contacts`
warns, located, where a subject or body would then start with what followed it ("님, …")."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
runner = CliRunner()


def test_an_opening_personalisation_empty_for_some_contacts_is_a_located_warning(
    tmp_path: Path,
) -> None:
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": "timezone: Asia/Seoul\n",
            "p/welcome.yaml": """
                sequence: welcome
                trigger: {event: subscribed}
                steps:
                  - send: hello
                    subject: "(광고) {{ contact.name }}님, 환영합니다"
                    body: "{{ contact.name | default('고객') }}님 안녕하세요"
            """,
            "c.csv": "id,email,name\nc1,a@x.com,Kim\nc2,b@x.com,\nc3,c@x.com,\n",
        },
    )
    result = runner.invoke(
        app, ["validate", str(tmp_path / "p"), "--contacts", str(tmp_path / "c.csv")]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "[empty-personalisation]" in line]
    assert len(lines) == 1, result.stderr  # the body has a fallback
    assert "welcome.yaml:5:" in lines[0] and "warning[empty-personalisation]" in lines[0]
    assert "2 contact(s) (c2, c3)" in lines[0] and "'님, 환영합니다" in lines[0]
    (tmp_path / "c.csv").write_text("id,email,name\nc1,a@x.com,Kim\n", encoding="utf-8")
    named = runner.invoke(
        app, ["validate", str(tmp_path / "p"), "--contacts", str(tmp_path / "c.csv")]
    )
    assert "empty-personalisation" not in named.output
