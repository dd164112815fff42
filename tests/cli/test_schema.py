"""`journeyctl schema`: the checked-in docs/schema/*.json are current and describe real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.spec.yamlsrc import parse_file

_register()
REPO = Path(__file__).parents[2]
SCHEMAS = REPO / "docs" / "schema"


def schema_out(*args: str) -> str:
    result = CliRunner().invoke(app, ["schema", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("kind", ["sequence", "journey"])
def test_checked_in_schema_is_current(kind: str) -> None:
    checked_in = (SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert schema_out("--kind", kind) == checked_in, "run: journeyctl schema --out docs/schema"


def test_out_writes_both(tmp_path: Path) -> None:
    schema_out("--out", str(tmp_path))
    for kind in ("sequence", "journey"):
        assert (tmp_path / f"{kind}.schema.json").read_text(encoding="utf-8") == (
            SCHEMAS / f"{kind}.schema.json"
        ).read_text(encoding="utf-8")


def test_schema_is_strict_and_tidy() -> None:
    seq = json.loads(schema_out("--kind", "sequence"))
    assert seq["additionalProperties"] is False
    assert seq["$defs"]["Send"]["additionalProperties"] is False
    assert seq["title"] == "journeyctl sequence"
    assert "title" not in seq["$defs"]["Send"]["properties"]["subject"]
    assert seq["$defs"]["DateSpec"]["properties"]["offset"]["default"] == "0m"
    assert seq["$defs"]["DateSpec"]["properties"]["at"]["default"] == "09:00"
    journey = json.loads(schema_out("--kind", "journey"))
    assert journey["additionalProperties"] is False
    assert "from" in journey["$defs"]["SmtpChannel"]["properties"]


def test_bad_kind_is_a_usage_error() -> None:
    assert CliRunner().invoke(app, ["schema", "--kind", "nope"]).exit_code == 2


def _files(project: Path) -> list[Path]:
    return sorted(project.glob("*.yaml"))


@pytest.mark.parametrize(
    "path", [*_files(REPO / "sequences"), *_files(REPO / "examples" / "app-push")], ids=str
)
def test_stock_files_satisfy_the_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    kind = "journey" if path.name == "journey.yaml" else "sequence"
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))
    data = parse_file(path).data
    jsonschema.validate(data, schema)


def test_schema_rejects_a_typo() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "sequence.schema.json").read_text(encoding="utf-8"))
    doc = {"trigger": {"event": "subscribed"}, "stpes": [{"send": "a", "body": "x"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
