"""`simulate` streamed (docs/decisions/streaming.md): the same bytes as the document built whole,
JSONL, unsorted events, located errors, and memory that does not follow the contacts."""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import subprocess
import sys
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.cli.sim_render import render_csv
from journeyctl.data.contacts import read_contacts
from journeyctl.data.events import read_events
from journeyctl.data.instants import parse_instant
from journeyctl.engine.make import make_engine
from journeyctl.reporting import sim_sort
from journeyctl.reporting.timeline import MESSAGE_FIELDS, to_json
from journeyctl.simulate import parallel, partition
from journeyctl.simulate.parallel import simulate_parallel
from journeyctl.spec import load_valid_project

_register()
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from bench_commands import tile  # noqa: E402


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def sim_args(contacts: Path, events: Path, *more: str) -> list[str]:
    return ["simulate", str(ROOT / "sequences"), "--contacts", str(contacts), "--events",
            str(events), "--start", "2026-11-01", "--days", "30", *more]  # fmt: skip


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # 7 copies of the examples: above the 2,000 contacts that start workers, several chunks
    return tile(2240, tmp_path_factory.mktemp("tiled"))


def whole_document(contacts: Path, events: Path) -> dict[str, object]:
    """The document as simulate built it before it streamed: every message in one list."""
    project = load_valid_project(ROOT / "sequences")
    cs = read_contacts(contacts, project.settings).items
    es = read_events(events, project.settings).items
    start = parse_instant("2026-11-01", project.settings.timezone)
    engine = make_engine(project, subjects_only=True)
    sim = simulate_parallel(project, cs, es, start, start + timedelta(days=30), engine=engine)
    return to_json(sim, sorted(project.sequences), project.settings.timezone)


def test_streamed_json_and_csv_are_the_whole_documents_bytes(
    tiled: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sort buffer of 500 rows: the messages go through many runs on disk and their merge.
    monkeypatch.setattr(sim_sort, "LIMIT", 500)
    doc = whole_document(*tiled)
    assert len(doc["messages"]) > 5000  # type: ignore[arg-type]
    code, out, _ = invoke(*sim_args(*tiled, "--format", "json"))
    assert code == 0
    assert out == json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    code, out, _ = invoke(*sim_args(*tiled, "--format", "csv"))
    assert code == 0
    assert out == render_csv(doc)  # ends with its newline: emit adds none


def test_jsonl_is_one_message_per_line_contact_by_contact(
    tiled: tuple[Path, Path], tmp_path: Path
) -> None:
    target = tmp_path / "out.jsonl"  # the format follows the name
    code, _, _ = invoke(*sim_args(*tiled, "--out", str(target)))
    assert code == 0
    lines = target.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(list(r) == list(MESSAGE_FIELDS) for r in rows)
    doc = whole_document(*tiled)
    key = lambda m: json.dumps(m, sort_keys=True)  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, doc["messages"]))  # type: ignore[arg-type]
    # contacts in the file's order, each contact's messages in time order
    with tiled[0].open(encoding="utf-8") as fh:
        order = {r["id"]: i for i, r in enumerate(csv.DictReader(fh))}
    positions = [order[r["contact_id"]] for r in rows]
    assert positions == sorted(positions)
    for a, b in itertools.pairwise(rows):
        if a["contact_id"] == b["contact_id"]:
            assert (a["at"], a["sequence"], a["step"]) <= (b["at"], b["sequence"], b["step"])


def test_events_in_any_order_give_the_same_output(tiled: tuple[Path, Path], tmp_path: Path) -> None:
    contacts, events = tiled
    lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
    body = lines[1:]
    random.Random(19).shuffle(body)
    shuffled = tmp_path / "events.csv"
    shuffled.write_text(lines[0] + "".join(body), encoding="utf-8")
    _, first, _ = invoke(*sim_args(contacts, events, "--format", "json"))
    code, second, _ = invoke(*sim_args(contacts, shuffled, "--format", "json"))
    assert code == 0
    assert second == first


def test_a_bad_row_late_in_the_file_is_located_and_nothing_is_written(
    tiled: tuple[Path, Path], tmp_path: Path
) -> None:
    contacts, events = tiled
    text = contacts.read_text(encoding="utf-8")
    first_id = text.splitlines()[1].split(",")[0]
    bad = tmp_path / "contacts.csv"
    bad.write_text(text + first_id + text.splitlines()[1][len(first_id) :] + "\n", "utf-8")
    line = len(text.splitlines()) + 1
    target = tmp_path / "out.json"
    code, _, err = invoke(*sim_args(bad, events, "--out", str(target)))
    assert code == 1
    assert f"contacts.csv:{line}:1" in err
    assert f"{first_id!r} is already used on line 2" in err
    assert not target.exists() and not list(tmp_path.glob("out.json*"))
    # an event with a broken time, last in the file
    broken = tmp_path / "events.csv"
    etext = events.read_text(encoding="utf-8")
    header = etext.splitlines()[0].split(",")
    row = {"contact_id": first_id, "event": "purchased", "at": "yesterday"}
    broken.write_text(etext + ",".join(row.get(c, "") for c in header) + "\n", "utf-8")
    code, _, err = invoke(*sim_args(contacts, broken, "--out", str(target)))
    assert code == 1
    assert f"events.csv:{len(etext.splitlines()) + 1}:{header.index('at') + 1}" in err
    assert "column at: 'yesterday'" in err
    assert not target.exists()


def peak_bytes(args: list[str]) -> int:
    """The peak of Python's allocations while simulate runs in this process (tracemalloc:
    exact and repeatable, where RSS moves with the allocator and the machine)."""
    tracemalloc.start()
    try:
        code, _, err = invoke(*args)
        assert code == 0, err
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_memory_does_not_follow_the_contacts(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The buffers that are bounded by a count (events waiting to be written by chunk, rows
    # waiting to be sorted) are made small, so that 600 contacts already fill them; one
    # process, so that every allocation is this one's. Holding the contacts, events or
    # messages (as simulate did before it streamed) adds several KB per contact.
    monkeypatch.setattr(partition, "CHUNK", 100)
    monkeypatch.setattr(partition, "_EVENT_BATCH", 250)
    monkeypatch.setattr(sim_sort, "LIMIT", 500)
    monkeypatch.setattr(sim_sort, "_BATCH", 20)  # the merge holds a batch per run
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 10**9)
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    s, b = tile(600, small), tile(2400, large)
    more = ["--format", fmt, "--out", str(tmp_path / f"out.{fmt}")]
    peak_bytes(sim_args(*s, *more))  # the first run's one-time costs (imports, templates)
    peak_small = peak_bytes(sim_args(*s, *more))
    grew = peak_bytes(sim_args(*b, *more)) - peak_small
    print(f"peak grew {grew} bytes from 600 to 2,400 contacts")
    # what stays per contact: its id in the readers' duplicate check and the chunk map
    assert grew < 1800 * 600, f"peak grew {grew} bytes from 600 to 2,400 contacts"


@pytest.mark.parametrize("fmt", ["json", "csv", "jsonl"])
def test_stdout_gets_the_text_in_its_own_encoding(fmt: str) -> None:
    # The streamed formats write UTF-8 bytes straight to stdout's buffer only when stdout
    # writes UTF-8; in any other encoding the text goes through it, as it always did.
    examples = ROOT / "examples"
    args = [sys.executable, "-m", "journeyctl"]
    args += sim_args(examples / "contacts.csv", examples / "events.csv", "--format", fmt)
    outs = {}
    for encoding in ("utf-8", "utf-16"):
        env = {**os.environ, "PYTHONIOENCODING": encoding, "NO_COLOR": "1"}
        r = subprocess.run(args, env=env, capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        outs[encoding] = r.stdout.decode(encoding)
    assert outs["utf-16"] == outs["utf-8"]
    assert "김서윤" in outs["utf-8"]  # text beyond ASCII, whose encodings differ
