"""The message's fields are declared once (engine.model.Message, read through MESSAGE_FIELDS):
every serializer carries every declared field, and no other module lists them or builds a
Message by position. A field added to the declaration is then covered here without a change.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import pickle
import re
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from journeyctl.channels.outbox import FileOutbox
from journeyctl.channels.records import RECORD_KEYS, message_record
from journeyctl.engine import model, native, wire
from journeyctl.engine.model import MESSAGE_FIELDS, Message, StepResult
from journeyctl.store.sqlite import SqliteStore
from journeyctl.store.sqlite.rows import MESSAGES
from tests.builders import contact

PACKAGE = native.HERE.parent  # the sources, also when the compiled engine is loaded
NAMES = {f.name for f in MESSAGE_FIELDS} | {f.label for f in MESSAGE_FIELDS}


def _value(kind: type, n: int) -> Any:
    """A value of `kind`, different for each `n`."""
    if kind is datetime:
        return datetime(2026, 11, 2, tzinfo=UTC) + timedelta(seconds=n, microseconds=n)
    if kind is bool:
        return n % 2 == 1
    if issubclass(kind, Enum):
        members = list(kind)
        return members[n % len(members)]
    return f"v{n} 안녕 \"'\\"  # str, and `object`: an optional str of a compiled class


def full(n: int = 1) -> Message:
    """Every declared field set, each to its own value."""
    return Message(*(_value(f.type, n + i) for i, f in enumerate(MESSAGE_FIELDS)))


def bare(n: int = 2) -> Message:
    """Every field that may be None left None (the key too: made when read)."""
    optional = {f.name for f in dataclasses.fields(Message) if f.default is None} | {"_key"}
    return Message(
        **{
            f.name: None if f.name in optional else _value(f.type, n + i)
            for i, f in enumerate(MESSAGE_FIELDS)
        }
    )


def _as_dict(m: Message) -> dict[str, Any]:
    return {f.name: getattr(m, f.name) for f in MESSAGE_FIELDS}


def test_the_declaration_is_the_dataclass_in_order() -> None:
    assert [f.name for f in MESSAGE_FIELDS] == [f.name for f in dataclasses.fields(Message)]
    assert tuple(f.label for f in MESSAGE_FIELDS) == RECORD_KEYS
    assert RECORD_KEYS[0] == "key"  # the outbox index reads it first on a line


@pytest.mark.parametrize("make", [full, bare])
def test_pickle_copy_and_the_wire_carry_every_field(make: Any) -> None:
    m = make()
    for back in (
        pickle.loads(pickle.dumps(m)),
        copy.deepcopy(m),
        wire.unpack(wire.pack([m], [], None))[0][0],
    ):
        assert _as_dict(back) == _as_dict(m)
        assert back._key == m._key  # not compared by ==, carried as it is


@pytest.mark.parametrize("make", [full, bare])
def test_records_and_outbox_lines_carry_every_field(make: Any, tmp_path: Path) -> None:
    m = make()
    record = message_record(m)
    assert list(record) == list(RECORD_KEYS)
    for f in MESSAGE_FIELDS:
        value = getattr(m, f.label)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Enum):
            value = value.value
        assert record[f.label] == value, f.name
    outbox = FileOutbox("email", path=tmp_path)
    outbox.deliver(m)
    outbox.close()
    line = (tmp_path / "email.jsonl").read_text(encoding="utf-8")
    assert json.loads(line) == {**record, "delivered": True}


@pytest.mark.parametrize("make", [full, bare])
def test_the_ledger_carries_every_field(make: Any, tmp_path: Path) -> None:
    m = make()
    store = SqliteStore(tmp_path / "j.db")
    store.upsert_contacts([contact(m.contact_id)], born=m.at - timedelta(days=1))
    with store.transaction():
        state = store.load(m.contact_id)
        state.messages.append(m)
        store.save(state, StepResult(messages=[m]))
    key = m.key
    (row,) = list(store.ledger())
    assert _as_dict(row.message) == {**_as_dict(m), "_key": key}
    assert store.load(m.contact_id).messages == [m]
    # A tick's load leaves out exactly what the declaration says the engine never reads.
    (history,) = store.load_many([m.contact_id])
    got = _as_dict(history.messages[0])
    for f in MESSAGE_FIELDS:
        assert got[f.name] == (getattr(m, f.label) if f.history else None), f.name
    columns = [r[1] for r in store.conn.execute("PRAGMA table_info(ledger)")]
    assert list(MESSAGES.column_names) == columns[1 : 1 + len(MESSAGE_FIELDS)]
    store.close()


def test_optional_instants_and_enums_say_their_type() -> None:
    """A compiled class reports `X | None` as `type`: an optional field that is not a str must
    say its type in its metadata (INSTANT), or serializers would pass its values unconverted."""
    source = (native.HERE / "model.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(model, node.name)
        if not dataclasses.is_dataclass(cls):
            continue
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            hint = ast.unparse(stmt.annotation)
            match = re.fullmatch(r"(\w+) \| None", hint)
            if match and match[1] not in ("str", "bool", "int"):
                said = fields[stmt.target.id].metadata.get("type")
                assert said is not None and said.__name__ == match[1], (node.name, hint)


# Modules that list the message's fields on purpose, and why.
LISTS_ON_PURPOSE = {
    # The schema's history: a new field is a new migration that adds its column.
    "store/migrations.py",
}


def _spelled_out(node: ast.AST) -> set[str]:
    """Field names a literal spells out: a tuple/list/set of strings or of `m.<field>`
    attributes, or one string that is a comma-separated list (an SQL column list)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        words = {e.value for e in node.elts if isinstance(e, ast.Constant)}
        words |= {e.attr for e in node.elts if isinstance(e, ast.Attribute)}
        words |= {
            e.args[0].attr
            for e in node.elts
            if isinstance(e, ast.Call) and e.args and isinstance(e.args[0], ast.Attribute)
        }
        return {w for w in words if isinstance(w, str)} & NAMES
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and "," in node.value:
        return {w.strip() for w in node.value.split(",")} & NAMES
    return set()


def violations(package: Path) -> list[str]:
    """Where a module of `package` builds a Message by position or lists (nearly) all of its
    fields: what would have to change, in step with the model, when a field is added. Reading
    a few fields (a report's columns, simulate's output shape) is using them, not this."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel == "engine/model.py" or rel in LISTS_ON_PURPOSE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Message"
                and len(node.args) > 1
            ):
                found.append(f"{rel}:{node.lineno}: Message(...) by position")
            names = _spelled_out(node)
            if len(names) >= len(MESSAGE_FIELDS) - 3:
                found.append(f"{rel}:{node.lineno}: lists {len(names)} of the fields")
    return found


def test_no_module_but_the_model_lists_the_fields_or_builds_a_message_by_position() -> None:
    assert violations(PACKAGE) == []
