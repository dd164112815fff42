"""Fuzz: the project loader and models (issue 14, item 2a).

Any text or bytes as a sequence file or as journey.yaml -> `load_project` + `validate_project`
give diagnostics, each located inside a file of the project, or a valid project; they never
raise and never hang.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from journeyctl.spec import validate_project
from journeyctl.spec.loader import load_project
from tests.fuzz.support import assert_located, corpus_cases, fuzz, no_hang

JOURNEY = b"""timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
  sms: {type: file, path: outbox/, medium: sms}
contacts:
  fields: {locale: string, orders: int, consent_email: bool, birthday: date}
"""
SEQUENCE = b"""sequence: welcome
trigger: {event: subscribed}
ad: false
transactional: true
steps:
  - send: hello
    channel: email
    subject: "Hi {{ contact.name }}"
    body: "Welcome"
"""


def _yaml_lines(text: str) -> int:
    # PyYAML ends a line at LF, CR LF, CR, NEL, LS and PS; splitlines() also splits at a few
    # more (VT, FF, FS...), so this is an upper bound, good enough for "inside the file".
    return len(text.splitlines()) + 1


def check_project(files: dict[str, bytes]) -> None:
    """Write `files` into a fresh project folder, load and validate it: located diagnostics
    or a valid project, nothing raised, no hang."""
    root = Path(tempfile.mkdtemp(prefix="jc-fuzz-"))
    try:
        for name, data in files.items():
            (root / name).write_bytes(data)
        with no_hang():
            project = load_project(root)
            diags = validate_project(project)
        lines = {}
        for path in root.rglob("*"):
            if path.is_file():
                raw = path.read_bytes()
                lines[path.name] = _yaml_lines(raw.decode("utf-8", "replace"))
        for d in diags:
            shown = Path(d.location.path)
            if shown == root or shown.name == root.name:  # "no sequences": the folder itself
                assert d.location.line == 1, d
                continue
            assert shown.name in lines, f"{d}: not located in a file of the project"
            assert_located(d, shown, lines[shown.name])
        if not [d for d in diags if d.is_error]:
            sequence_files = [n for n in files if n != "journey.yaml"]
            assert len(project.sequences) == len(sequence_files), (diags, project.sequences)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_sequence_bytes(data: bytes) -> None:
    check_project({"journey.yaml": JOURNEY, "seq.yaml": data})


def check_journey_bytes(data: bytes) -> None:
    check_project({"journey.yaml": data, "seq.yaml": SEQUENCE})


# --- strategies --------------------------------------------------------------------------

# Fragments real files are made of, and the ones hostile files add (aliases, tags, tabs,
# flow collections, quotes, BOMs, NUL, line separators, huge numbers).
_TOKENS = [
    "sequence: ", "trigger: ", "{event: subscribed}", "steps:", "- send: hello", "- wait: 2d",
    "- exit: done", "channel: email", "subject: ", "body: ", "template: x.html.j2",
    "audience: ", "contact.orders > 1", "branch:", "if: ", "then:", "else:", "split:",
    "wait_for: ", "{event: clicked, timeout: 1d}", "goal: ", "within: 3d", "ad: ", "true",
    "false", "yes", "no", "10:00", "2026-11-01", "~", "null", "1e999", "9" * 40, "-0", ".nan",
    "&a ", "*a", "<<: *a", "!!python/object:os.system", "!!binary", "!!str", "!!map", "!custom",
    "%YAML 1.1", "---", "...", "? ", ": ", "-", "[", "]", "{", "}", ",", "'", '"', "#", "|",
    ">", "\t", "  ", "    ", "\n", "\r\n", "\r", "\x00", "\ufeff", "\u2028", "\x85",
    "{{ contact.name }}", "{% for i in range(3) %}x{% endfor %}", "{{", "}}", "${HOME}",
    "하루마켓", "\U0001f600", "\udcff"[:0],
]  # fmt: skip

yaml_fragments = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)

_ids = st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    _ids,
    st.sampled_from(["2d", "1h", "0d", "-1d", "10:00", "25:61", "mon", "2026-11-01", "P1D"]),
)
_template_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "Hi {{ contact.name }}",
            "{{ contact.orders + 1 }}",
            "{{ contact.nope }}",
            "{% if contact.locale == 'en' %}Hi{% else %}안녕{% endif %}",
            "{{ unsubscribe_url }}",
            "{{ contact.__class__ }}",
            "{{ ''.__class__.__mro__ }}",
            "{% include 'x' ~ contact.id %}",
            "{{ contact.name|attr('__class__') }}",
            "{{ 'a' * 10 }}",
            "{% for i in range(5) %}{{ i }}{% endfor %}",
            "{{",
            "{% endif %}",
        ]
    ),
)
_expressions = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "contact.orders > 1",
            "contact.consent_email",
            "clicked('hello') or opened('hello')",
            "contact.locale == 'en' and contact.orders >= 0",
            "event.props.total > 10",
            "contact.__class__",
            "(",
            "1 +",
            "contact.nope",
            "days_since(contact.birthday) > 3",
        ]
    ),
)


def _steps(depth: int) -> st.SearchStrategy[list[Any]]:
    send = st.fixed_dictionaries(
        {"send": st.one_of(_ids, _scalars)},
        optional={
            "channel": st.sampled_from(["email", "sms", "push", ""]),
            "subject": _template_text,
            "body": _template_text,
            "template": st.sampled_from(["x.html.j2", "../etc/passwd", "", "a.txt.j2"]),
            "window": st.fixed_dictionaries(
                {"start": st.sampled_from(["09:00", "9", "25:00"]), "end": _scalars}
            ),
            "on_cap": st.sampled_from(["defer", "skip", "drop"]),
            "bogus": _scalars,
        },
    )
    wait = st.fixed_dictionaries(
        {"wait": st.one_of(_scalars, st.fixed_dictionaries({"until": _scalars}))},
        optional={"id": _ids},
    )
    exit_ = st.fixed_dictionaries({"exit": st.one_of(_ids, _scalars)})
    leaves = [send, wait, exit_, _scalars]
    if depth > 0:
        inner = _steps(depth - 1)
        branch = st.fixed_dictionaries(
            {
                "branch": st.fixed_dictionaries(
                    {"if": _expressions}, optional={"then": inner, "else": inner}
                )
            }
        )
        split = st.fixed_dictionaries(
            {
                "split": st.dictionaries(
                    _ids,
                    st.fixed_dictionaries({"weight": _scalars}, optional={"steps": inner}),
                    max_size=3,
                )
            }
        )
        wait_for = st.fixed_dictionaries(
            {
                "wait_for": st.fixed_dictionaries(
                    {"event": _ids, "timeout": _scalars}, optional={"where": _expressions}
                )
            },
            optional={"on_event": inner, "on_timeout": inner},
        )
        leaves += [branch, split, wait_for]
    return st.lists(st.one_of(*leaves), max_size=4)


_trigger = st.one_of(
    st.fixed_dictionaries({"event": _ids}, optional={"where": _expressions, "max_age": _scalars}),
    st.fixed_dictionaries({"segment": _expressions}, optional={"check": st.text(max_size=15)}),
    st.fixed_dictionaries(
        {"date": st.fixed_dictionaries({"field": st.sampled_from(["birthday", "orders", "x"])})},
        optional={"check": st.sampled_from(["0 * * * *", "bad", "61 * * * *"])},
    ),
    _scalars,
)

sequence_docs = st.fixed_dictionaries(
    {"trigger": _trigger, "steps": _steps(2)},
    optional={
        "sequence": st.one_of(_ids, _scalars),
        "audience": _expressions,
        "exit_on": st.lists(st.one_of(_ids, _scalars), max_size=3),
        "goal": st.fixed_dictionaries({"event": _ids}, optional={"within": _scalars}),
        "ad": _scalars,
        "transactional": _scalars,
        "reentry": st.sampled_from(["never", "always", "after 3d", "sometimes"]),
        "migrate": st.dictionaries(_ids, _ids, max_size=2),
        "unknown_key": _scalars,
    },
)

journey_docs = st.fixed_dictionaries(
    {},
    optional={
        "timezone": st.sampled_from(["Asia/Seoul", "UTC", "Mars/Olympus", "", "../../etc"]),
        "quiet_hours": st.fixed_dictionaries({"start": _scalars, "end": _scalars}),
        "frequency_cap": st.fixed_dictionaries({"max": _scalars, "per": _scalars}),
        "compliance": st.lists(st.sampled_from(["kr", "us", "eu", "mars"]), max_size=3),
        "channels": st.dictionaries(
            st.one_of(_ids, st.text(max_size=5)),
            st.one_of(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["file", "smtp", "webhook", "pigeon"])},
                    optional={
                        "path": st.text(max_size=10),
                        "medium": st.sampled_from(["email", "sms", "push", "other", "fax"]),
                        "host": st.text(max_size=10),
                        "from": st.text(max_size=20),
                        "url": st.text(max_size=20),
                        "port": _scalars,
                    },
                ),
                _scalars,
            ),
            max_size=3,
        ),
        "contacts": st.fixed_dictionaries(
            {
                "fields": st.dictionaries(
                    st.one_of(_ids, st.text(max_size=5)),
                    st.sampled_from(["string", "int", "float", "bool", "date", "datetime", "x"]),
                    max_size=4,
                )
            }
        ),
        "unsubscribe_url": _template_text,
        "unsubscribe_secret": st.sampled_from(["${UNSUBSCRIBE_SECRET}", "plain", "${", ""]),
        "sender": st.dictionaries(st.sampled_from(["name", "contact", "address", "x"]), _scalars),
    },
)


def dump(doc: Any) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8", "surrogatepass")


# --- properties --------------------------------------------------------------------------


@fuzz
@given(st.binary(max_size=400))
def test_sequence_file_of_any_bytes(data: bytes) -> None:
    check_sequence_bytes(data)


@fuzz
@given(st.text(max_size=300))
def test_sequence_file_of_any_text(text: str) -> None:
    check_sequence_bytes(text.encode("utf-8", "surrogatepass"))


@fuzz
@given(yaml_fragments)
def test_sequence_file_of_yaml_fragments(text: str) -> None:
    check_sequence_bytes(text.encode("utf-8", "surrogatepass"))


@fuzz
@given(sequence_docs)
def test_sequence_file_close_to_real_ones(doc: dict[str, Any]) -> None:
    check_sequence_bytes(dump(doc))


@fuzz
@given(journey_docs)
def test_journey_file_close_to_real_ones(doc: dict[str, Any]) -> None:
    check_journey_bytes(dump(doc))


@fuzz
@given(yaml_fragments)
def test_journey_file_of_yaml_fragments(text: str) -> None:
    check_journey_bytes(text.encode("utf-8", "surrogatepass"))


# --- the saved corpus --------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for path in corpus_cases("sequence"):
        yield pytest.param(check_sequence_bytes, path, id=f"sequence/{path.name}")
    for path in corpus_cases("journey"):
        yield pytest.param(check_journey_bytes, path, id=f"journey/{path.name}")


@pytest.mark.parametrize(("check", "path"), list(_cases()))
def test_saved_case(check: Any, path: Path) -> None:
    check(path.read_bytes())
