"""The engine's value types whose __init__ is written out by hand (engine/model.py says why)
must take exactly their declared fields, in order, with the declared defaults."""

from __future__ import annotations

import ast
import dataclasses
import functools
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from journeyctl.engine import native
from journeyctl.engine.model import (
    Contact,
    ContactState,
    Enrollment,
    Message,
    Outcome,
    SegmentHorizon,
    Status,
    StepResult,
    TriggerMark,
)
from journeyctl.engine.render import Rendered
from journeyctl.engine.rules import Verdict

HAND_WRITTEN = [
    ContactState, Enrollment, Message, Rendered, SegmentHorizon, StepResult, TriggerMark, Verdict,
]  # fmt: skip
_counter = itertools.count()


@functools.cache
def _declared() -> dict[str, str]:
    """Field name -> declared type, from the source: compiled classes report optional hints
    as `type` (the names mean the same type in every class here)."""
    out: dict[str, str] = {}
    for name in ("model.py", "rules.py", "render.py"):
        for node in ast.walk(ast.parse((native.HERE / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                out.setdefault(node.target.id, ast.unparse(node.annotation))
    return out


def _sample(f: dataclasses.Field[Any]) -> Any:
    """A new value of the field's type, distinct from every other sample (the compiled classes
    check types, so `object()` will not do)."""
    kind = _declared()[f.name].split(" | ")[0].split("[")[0]
    n = next(_counter)
    makers = {
        "str": lambda: f"v{n}",
        "datetime": lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
        "bool": lambda: n % 2 == 0,
        "int": lambda: 1000 + n,
        "Status": lambda: Status.SKIPPED,
        "Outcome": lambda: Outcome.GOAL,
        "Contact": lambda: Contact(f"c{n}"),
        "list": list,
        "dict": dict,
    }
    return makers[kind]()


def _same(got: Any, sample: Any) -> bool:
    """The very sample (compiled classes store ints unboxed: equal then, samples are distinct)."""
    if type(sample) is int:
        return type(got) is int and got == sample
    return got is sample


def _required(cls: type) -> list[dataclasses.Field[Any]]:
    return [
        f for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]  # fmt: skip


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda c: c.__name__)
def test_positional_arguments_land_in_declared_order(cls: type) -> None:
    fields = dataclasses.fields(cls)
    values = [_sample(f) for f in fields]
    obj = cls(*values)
    assert all(_same(getattr(obj, f.name), v) for f, v in zip(fields, values, strict=True))
    with pytest.raises(TypeError):
        cls(*values, None)  # no parameter beyond the fields


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda c: c.__name__)
def test_keywords_and_defaults_match_the_fields(cls: type) -> None:
    required = {f.name: _sample(f) for f in _required(cls)}
    obj = cls(**required)
    for f in dataclasses.fields(cls):
        got = getattr(obj, f.name)
        if f.name in required:
            assert _same(got, required[f.name])
        elif f.default_factory is not dataclasses.MISSING:
            assert got == f.default_factory() and type(got) is type(f.default_factory())
        else:
            assert got == f.default
    if required:
        with pytest.raises(TypeError):
            cls()  # required fields stay required
    for f in dataclasses.fields(cls):  # every field may be given by name
        value = _sample(f)
        assert _same(getattr(cls(**{**required, f.name: value}), f.name), value)


def test_defaults_from_factories_are_not_shared() -> None:
    a, b = ContactState(Contact("a")), ContactState(Contact("b"))
    a.cap_times.append(datetime(2026, 1, 1, tzinfo=UTC))
    a.alarms["x"] = None
    assert b.cap_times == [] and b.alarms == {}
    r1, r2 = StepResult(), StepResult()
    r1.next_due = datetime(2026, 1, 1, tzinfo=UTC)
    r1.changed.append(Enrollment("e", "c", "s", "v", datetime(2026, 1, 1, tzinfo=UTC), None, None))
    assert r2.changed == []


def test_replace_and_equality_still_work() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    m = Message("k", "c", "s", "st", "email", at, Status.SENT, "e", True)
    other = dataclasses.replace(m, subject="hi")
    assert other.subject == "hi" and other.key == "k" and m.subject is None
    assert dataclasses.replace(other, subject=None) == m


def test_states_deep_copy_and_pickle() -> None:
    """`plan` deep-copies a contact's state; a compiled class with its own __init__ cannot be
    made without arguments, so these reduce to their flat form (model.Flat), rebuilt by a
    constructor call."""
    import copy
    import pickle

    at = datetime(2026, 1, 1, tzinfo=UTC)
    state = ContactState(Contact("a"), cursor=at)
    state.enrollments.append(Enrollment("e", "a", "s", "v", at, "step", at))
    state.alarms["s"] = at
    state.horizons["s"] = SegmentHorizon(state.contact, 1, 0, -1, 4, at, None)
    for clone in (copy.deepcopy(state), pickle.loads(pickle.dumps(state))):
        assert clone == state and clone is not state
        assert clone.enrollments[0] is not state.enrollments[0]
    result = StepResult(changed=list(state.enrollments), next_due=at)
    assert copy.deepcopy(result) == result
