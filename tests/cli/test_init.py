"""`journeyctl init`: scaffold from the stock library; refuse to overwrite by accident."""

from __future__ import annotations

import filecmp
from pathlib import Path

from typer.testing import CliRunner

import journeyctl
from journeyctl.cli import _register, app
from journeyctl.scaffold import stock_dir
from tests.engines import installed

_register()
REPO = Path(__file__).parents[2]


def init(*args: str) -> object:
    return CliRunner().invoke(app, ["init", *args])


def test_stock_dir_is_the_checkout_library() -> None:
    if installed():  # a wheel carries it as package data (pyproject's force-include)
        assert stock_dir() == Path(journeyctl.__file__).resolve().parent / "stock"
        return
    assert stock_dir() == (REPO / "sequences").resolve()


def test_init_copies_the_stock_library_and_it_validates(tmp_path: Path) -> None:
    target = tmp_path / "crm"
    result = init(str(target))
    assert result.exit_code == 0, result.stderr
    stock = REPO / "sequences"
    for path in stock.rglob("*"):
        rel = path.relative_to(stock)
        if {"outbox", "__pycache__"} & set(rel.parts):  # a demo run's deliveries: not copied
            assert not (target / rel).exists(), rel
        elif path.is_file() and path.suffix != ".yaml":
            assert filecmp.cmp(path, target / rel, shallow=False), path
    welcome = (target / "welcome.yaml").read_text(encoding="utf-8")
    assert welcome.startswith("# yaml-language-server: $schema=./.schema/sequence.schema.json")
    assert (target / ".schema" / "sequence.schema.json").is_file()
    assert CliRunner().invoke(app, ["validate", str(target), "--strict"]).exit_code == 0


def test_init_refuses_a_non_empty_dir_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    refused = init(str(tmp_path))
    assert refused.exit_code == 2
    assert "not empty" in refused.stderr
    assert not (tmp_path / "welcome.yaml").exists()
    forced = init(str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "welcome.yaml").is_file()
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_init_from_another_project(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.yaml").write_text("trigger: {event: subscribed}\n", encoding="utf-8")
    assert init(str(tmp_path / "dst"), "--from", str(src)).exit_code == 0
    assert (tmp_path / "dst" / "hello.yaml").read_text(encoding="utf-8") == (
        "trigger: {event: subscribed}\n"
    )
    assert init(str(tmp_path / "x"), "--from", str(tmp_path / "missing")).exit_code == 2


def test_wheel_config_packages_the_stock_library() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    force = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force == {"sequences": "journeyctl/stock"}
