"""Sequence tests kept in a project (`tests/*.yaml`): given contacts, events and a period,
expect messages (contact, step, time), their absence, and enrollment outcomes.

A test file holds one test (a mapping) or several (a list). Each runs `simulate` on the
project; expected `messages` are the *whole* list of sent messages for the test's contacts
(in the sequences it runs), so an extra message fails the test as a missing one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from journeyctl.data.convert import TYPES, datetime_parser, parser_for
from journeyctl.diagnostics import Diagnostic, error
from journeyctl.engine.model import WELL_KNOWN_COLUMNS, Contact, Event, Status
from journeyctl.spec.loader import validation_diagnostics
from journeyctl.spec.project import Project
from journeyctl.spec.yamlsrc import SourceFile, parse_file

TESTS_DIR = "tests"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactRow(BaseModel):
    """`{id, ...columns}`: columns are typed by journey.yaml `contacts.fields`."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: str | int


class CaseEventRow(BaseModel):
    """`{contact_id, event, at, ...properties}`."""

    model_config = ConfigDict(extra="allow", frozen=True)
    contact_id: str | int
    event: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    at: str


class ExpectMessage(_Strict):
    contact: str | int
    step: str
    at: str
    sequence: str | None = None
    status: Literal["sent", "skipped"] = "sent"
    reason: str | None = None


class ExpectAbsent(_Strict):
    contact: str | int
    step: str
    sequence: str | None = None


class ExpectEnrollment(_Strict):
    contact: str | int
    sequence: str
    outcome: Literal["active", "completed", "exited", "goal"]
    reason: str | None = None


class Expect(_Strict):
    messages: list[ExpectMessage] | None = None  # None: not checked; [] = no messages at all
    absent: list[ExpectAbsent] = Field(default_factory=list)
    enrollments: list[ExpectEnrollment] = Field(default_factory=list)


class SequenceTest(_Strict):
    name: str
    contacts: list[ContactRow] = Field(min_length=1)
    events: list[CaseEventRow] = Field(default_factory=list)
    start: str
    days: int = Field(ge=1, le=3660)
    sequences: list[str] | None = None  # only these run (default: every sequence)
    assume: dict[str, float] | None = None
    seed: int = 0
    expect: Expect


@dataclass
class LoadedCase:
    case: SequenceTest
    source: SourceFile
    path: tuple[str | int, ...]  # key path of the case in its file
    contacts: list[Contact]
    events: list[Event]
    start: datetime

    @property
    def label(self) -> str:
        return f"{self.source.path}: {self.case.name}"


# --- loading ---------------------------------------------------------------------------------


def find_test_files(root: Path) -> list[Path]:
    base = root / TESTS_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_cases(project: Project, files: list[Path]) -> tuple[list[LoadedCase], list[Diagnostic]]:
    cases: list[LoadedCase] = []
    diags: list[Diagnostic] = []
    for file in files:
        src = parse_file(file, _display(file, project.root))
        diags.extend(src.diagnostics)
        if src.diagnostics:
            continue
        items: list[tuple[Any, tuple[str | int, ...]]]
        if isinstance(src.data, list):
            items = [(item, (i,)) for i, item in enumerate(src.data)]
        elif isinstance(src.data, dict):
            items = [(src.data, ())]
        else:
            diags.append(
                error(
                    src.locate(()),
                    "bad-value",
                    "a test file is a test (mapping) or a list of tests",
                )
            )
            continue
        for data, path in items:
            loaded, problems = _load_case(project, src, data, path)
            diags.extend(problems)
            if loaded is not None and not problems:
                cases.append(loaded)
    return cases, diags


def _display(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root.parent) if root.name else path
    except ValueError:
        return path


def _load_case(
    project: Project, src: SourceFile, data: Any, path: tuple[str | int, ...]
) -> tuple[LoadedCase | None, list[Diagnostic]]:
    try:
        case = SequenceTest.model_validate(data)
    except ValidationError as exc:
        shifted = _Shifted(src, path)
        return None, validation_diagnostics(shifted, exc)  # type: ignore[arg-type]
    zone = ZoneInfo(project.settings.timezone)
    parse_at = datetime_parser(zone)
    problems: list[Diagnostic] = []

    def instant(text: str, where: tuple[str | int, ...]) -> datetime | None:
        try:
            return parse_at(text.strip())
        except (ValueError, OverflowError):
            problems.append(
                error(
                    src.locate((*path, *where)),
                    "bad-datetime",
                    f"{text!r} is not a date or datetime",
                    "write ISO 8601 like 2026-11-02T09:30:00+09:00 (naive: project timezone)",
                )
            )
            return None

    start = instant(case.start, ("start",))
    contacts = [
        _contact(project, src, path, i, row, problems) for i, row in enumerate(case.contacts)
    ]
    known = {c.id for c in contacts}
    events = []
    for i, row in enumerate(case.events):
        at = instant(row.at, ("events", i, "at"))
        cid = str(row.contact_id)
        if cid not in known:
            problems.append(
                error(
                    src.locate((*path, "events", i, "contact_id")),
                    "unknown-contact",
                    f"event for contact {cid!r}, which is not in this test's contacts",
                )
            )
        props = tuple(sorted((k, v) for k, v in (row.model_extra or {}).items() if v is not None))
        if at is not None:
            events.append(Event(cid, row.event, at, props))
    problems += _check_names(project, case, src, path, known)
    for i, m in enumerate(case.expect.messages or []):
        instant(m.at, ("expect", "messages", i, "at"))
    if start is None or problems:
        return None, problems
    return LoadedCase(case, src, path, contacts, events, start), []


class _Shifted:
    """A SourceFile view whose locations are relative to one test inside a list of tests."""

    def __init__(self, src: SourceFile, prefix: tuple[str | int, ...]) -> None:
        self._src, self._prefix = src, prefix
        self.path = src.path

    def locate(self, path: tuple[str | int, ...], *, at_key: bool = False) -> Any:
        return self._src.locate((*self._prefix, *path), at_key=at_key)


def _contact(
    project: Project,
    src: SourceFile,
    path: tuple[str | int, ...],
    i: int,
    row: ContactRow,
    problems: list[Diagnostic],
) -> Contact:
    zone = ZoneInfo(project.settings.timezone)
    fields = project.settings.contacts.fields
    attrs: dict[str, Any] = {}
    known: dict[str, Any] = {}
    for key, value in (row.model_extra or {}).items():
        if key in WELL_KNOWN_COLUMNS:
            known[key] = None if value is None else str(value)
            continue
        kind = fields.get(key, "string")
        typed, ok = _typed(value, kind, parser_for(kind, zone))
        if not ok:
            t = TYPES[kind]
            problems.append(
                error(
                    src.locate((*path, "contacts", i, key)),
                    t.code,
                    f"{key}: {value!r} is not {t.noun}",
                    t.hint,
                )
            )
        attrs[key] = typed
    # A declared column the test leaves out is empty, as in a CSV that has the column.
    for key in fields:
        attrs.setdefault(key, None)
    return Contact(
        str(row.id),
        email=known.get("email"),
        phone=known.get("phone"),
        name=known.get("name"),
        timezone=known.get("timezone"),
        attrs=attrs,
    )


def _typed(value: Any, kind: str, parse: Any) -> tuple[Any, bool]:
    """A YAML scalar as the declared column type: strings parse as in a CSV, scalars must fit."""
    if value is None:
        return None, True
    if isinstance(value, str):
        if parse is None:
            return value, True
        try:
            return parse(value.strip()), True
        except (ValueError, OverflowError):
            return None, False
    fits = (
        kind == "string"
        or (kind == "bool" and isinstance(value, bool))
        or (
            kind in ("int", "float")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        )
    )
    if not fits:
        return None, False
    if kind == "string":
        return str(value).lower() if isinstance(value, bool) else str(value), True
    return (float(value) if kind == "float" else value), True


def _check_names(
    project: Project,
    case: SequenceTest,
    src: SourceFile,
    path: tuple[str | int, ...],
    known: set[str],
) -> list[Diagnostic]:
    """Expectations must name contacts, sequences and steps that exist: a typo never passes."""
    out: list[Diagnostic] = []
    seqs = project.sequences
    for i, name in enumerate(case.sequences or []):
        if name not in seqs:
            out.append(
                error(
                    src.locate((*path, "sequences", i)), "unknown-sequence", f"no sequence {name!r}"
                )
            )
    checks: list[tuple[str, Any, str | None]] = [
        *(("messages", m, m.sequence) for m in case.expect.messages or []),
        *(("absent", a, a.sequence) for a in case.expect.absent),
    ]
    counters: dict[str, int] = {}
    for key, item, seq in checks:
        i = counters[key] = counters.get(key, -1) + 1
        where = (*path, "expect", key, i)
        if str(item.contact) not in known:
            out.append(
                error(
                    src.locate((*where, "contact")),
                    "unknown-contact",
                    f"no contact {item.contact!r} in this test",
                )
            )
        if seq is not None and seq not in seqs:
            out.append(
                error(src.locate((*where, "sequence")), "unknown-sequence", f"no sequence {seq!r}")
            )
            continue
        pool = [seqs[seq]] if seq is not None else list(seqs.values())
        if not any(item.step in s.flow.nodes for s in pool):
            scope = f"sequence {seq!r}" if seq else "any sequence"
            out.append(
                error(
                    src.locate((*where, "step")),
                    "unknown-step",
                    f"no step {item.step!r} in {scope}",
                )
            )
    for i, e in enumerate(case.expect.enrollments):
        where = (*path, "expect", "enrollments", i)
        if e.sequence not in seqs:
            out.append(
                error(
                    src.locate((*where, "sequence")),
                    "unknown-sequence",
                    f"no sequence {e.sequence!r}",
                )
            )
        if str(e.contact) not in known:
            out.append(
                error(
                    src.locate((*where, "contact")),
                    "unknown-contact",
                    f"no contact {e.contact!r} in this test",
                )
            )
    return out


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side timelines."""

    contact: str
    sequence: str
    step: str
    expected: str | None  # local time (and status) expected, None: not expected
    actual: str | None
    ok: bool


@dataclass
class CaseResult:
    label: str
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # absent / enrollment failures

    @property
    def passed(self) -> bool:
        return not self.problems and all(r.ok for r in self.rows)


def run_case(project: Project, loaded: LoadedCase) -> CaseResult:
    from journeyctl.engine.advance import Assumptions
    from journeyctl.engine.make import make_engine
    from journeyctl.simulate.replay import simulate

    case = loaded.case
    only = set(case.sequences) if case.sequences else None
    run_project = project
    if only is not None:
        from dataclasses import replace

        run_project = replace(
            project, sequences={k: v for k, v in project.sequences.items() if k in only}
        )
    rates = tuple(sorted(case.assume.items())) if case.assume else ()
    engine = make_engine(run_project, assumptions=Assumptions(rates, case.seed) if rates else None)
    sim = simulate(
        run_project, loaded.contacts, loaded.events, loaded.start,
        loaded.start + timedelta(days=case.days), engine=engine,
    )  # fmt: skip
    ptz = project.settings.timezone
    zones = {cid: ZoneInfo(z) for cid, z in sim.zones.items()}
    parse_at = datetime_parser(ZoneInfo(ptz))

    def local(cid: str, t: datetime) -> str:
        return t.astimezone(zones.get(cid, ZoneInfo(ptz))).isoformat(timespec="minutes")

    result = CaseResult(loaded.label)
    exp = case.expect
    actual = sorted(sim.messages, key=lambda m: (m.at, m.contact_id, m.sequence, m.step))
    if exp.messages is not None:
        pool = list(actual)
        rows: list[tuple[datetime, Row]] = []
        for m in exp.messages:
            cid, at = str(m.contact), parse_at(m.at.strip())
            hit = next(
                (
                    a for a in pool
                    if a.contact_id == cid and a.step == m.step and a.at == at
                    and str(a.status) == m.status and (m.sequence in (None, a.sequence))
                    and (m.reason in (None, a.reason))
                ),
                None,
            )  # fmt: skip
            if hit is None:  # the same step at another time is the likeliest counterpart
                hit = next(
                    (
                        a
                        for a in pool
                        if a.contact_id == cid
                        and a.step == m.step
                        and m.sequence in (None, a.sequence)
                    ),
                    None,
                )
                ok = False
            else:
                ok = True
            if hit is not None:
                pool.remove(hit)
            seq = m.sequence or (hit.sequence if hit else "?")
            shown = local(cid, at) + _status(m.status, m.reason)
            got = None if hit is None else local(cid, hit.at) + _status(str(hit.status), hit.reason)
            rows.append((at, Row(cid, seq, m.step, shown, got, ok)))
        for a in pool:
            # Skipped messages are only checked when listed; an unlisted sent one is a failure.
            if a.status is Status.SENT:
                got = local(a.contact_id, a.at) + _status(str(a.status), a.reason)
                rows.append((a.at, Row(a.contact_id, a.sequence, a.step, None, got, False)))
        result.rows = [r for _, r in sorted(rows, key=lambda x: x[0])]
    for gone in exp.absent:
        cid = str(gone.contact)
        for sent in actual:
            if (
                sent.contact_id == cid
                and sent.step == gone.step
                and sent.status is Status.SENT
                and gone.sequence in (None, sent.sequence)
            ):
                result.problems.append(
                    f"expected no `{gone.step}` for {cid}, but it was sent at {local(cid, sent.at)}"
                )
    for e in exp.enrollments:
        cid = str(e.contact)
        found = [x for x in sim.enrollments if x.contact_id == cid and x.sequence == e.sequence]
        if any(str(x.outcome) == e.outcome and e.reason in (None, x.reason) for x in found):
            continue
        want = e.outcome + (f" ({e.reason})" if e.reason else "")
        got = ", ".join(str(x.outcome) + (f" ({x.reason})" if x.reason else "") for x in found)
        result.problems.append(
            f"enrollment of {cid} in `{e.sequence}`: expected {want}, got {got or 'never enrolled'}"
        )
    return result


def _status(status: str, reason: str | None) -> str:
    return "" if status == "sent" else f" skipped ({reason})"


def run_all(project: Project, cases: list[LoadedCase]) -> Iterator[CaseResult]:
    for loaded in cases:
        yield run_case(project, loaded)
