"""Enrollment rows follow the model's declaration (engine.model.serial_fields): every field has
its column and comes back from the database as it went in, with its type."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path

from journeyctl.engine.model import Enrollment, Outcome, StepResult
from journeyctl.store.open import open_store
from journeyctl.store.sqlite import SqliteStore
from journeyctl.store.sqlite.rows import ENROLLMENTS
from tests.builders import contact
from tests.store.test_contract import BORN, T0


def _every_field_set() -> Enrollment:
    """An enrollment whose every field differs from its default and from the others."""
    return Enrollment(
        "e1", "c", "welcome", "v1", T0, None, T0 + timedelta(hours=1), Outcome.EXITED,
        T0 + timedelta(hours=2), "unsubscribed", "b", T0 + timedelta(hours=3),
        T0 + timedelta(hours=4), "quiet_hours", "digest:contact",
    )  # fmt: skip


def test_every_declared_field_has_its_column(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    columns = {r[1] for r in store.conn.execute("PRAGMA table_info(enrollments)")}
    store.close()
    assert set(ENROLLMENTS.column_names) | {"seq"} == columns
    assert ENROLLMENTS.column_names == tuple(f.name for f in fields(Enrollment))


def test_an_enrollment_comes_back_as_it_was_saved(db_url: str) -> None:
    e = _every_field_set()
    assert all(getattr(e, f.name) != f.default for f in fields(Enrollment))
    store = open_store(db_url)
    store.upsert_contacts([contact("c")], born=BORN)
    state = store.load("c")
    state.enrollments.append(e)
    store.save(state, StepResult(changed=[e]))
    (full,) = store.load("c").enrollments
    (batch,) = store.load_many(["c"])[0].enrollments
    store.close()
    for got in (full, batch):
        assert got == e
        for f in fields(Enrollment):
            assert type(getattr(got, f.name)) is type(getattr(e, f.name)), f.name
        assert all(isinstance(getattr(got, n), datetime) for n in ("entered_at", "ended_at"))
