"""Fuzz: rendering with arbitrary contact data (issue 14, item 2d).

A small project's steps rendered, through the renderer `make_engine` builds, for a run of
contacts with arbitrary values: contact data is printed, never evaluated as a template
(`{{ 7*7 }}` as a name prints `{{ 7*7 }}`), HTML escapes it, the output is what a fresh render
of that contact gives whatever was rendered before (the renderer memoizes), and the only
failure is `RenderFailure`. The same for the subjects-only renderer `simulate` uses.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from journeyctl.engine.failures import RenderFailure
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact
from journeyctl.engine.render import Renderer
from journeyctl.spec.models import Send
from journeyctl.spec.project import Project
from tests.builders import make_project
from tests.fuzz.support import corpus_cases, fuzz, load_json_case, no_hang, outcome

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
JOURNEY = """
timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
contacts:
  fields: {city: string, note: string, locale: string, orders: int}
"""
SEQUENCE = """
sequence: welcome
trigger: {event: subscribed}
ad: false
transactional: true
steps:
  - send: printed
    channel: email
    subject: "Hi {{ contact.name }}!"
    body: "{{ contact.name }}|{{ contact.city }}|{{ contact.note }}"
  - send: files
    channel: email
    subject: "{{ contact.city }}"
    template: hello.html.j2
    text_template: hello.txt.j2
  - send: localized
    channel: email
    subject: "{% if contact.locale == 'en' %}Hi {{ contact.name }}{% else %}안녕 {{ contact.name }}{% endif %}"
    body: "{{ contact.note }}"
  - send: computed
    channel: email
    subject: "{{ contact.orders + 1 }}"
    body: "{{ contact.city | upper }} {{ contact.note | length }} {{ contact.name ~ contact.city }}"
"""
HTML = "<p>{{ contact.name }}</p><p>{{ contact.note }}</p>"
TEXT = "{{ contact.name }}\n{{ contact.city }}"
ATTRS = ("city", "note", "locale", "orders")


@cache
def project() -> Project:
    root = Path(tempfile.mkdtemp(prefix="jc-fuzz-render-"))
    atexit.register(shutil.rmtree, root, True)
    return make_project(
        root, {"welcome": SEQUENCE}, JOURNEY, **{"hello.html.j2": HTML, "hello.txt.j2": TEXT}
    )


def steps() -> dict[str, Send]:
    found = {}
    for step in project().sequences["welcome"].model.steps:
        assert isinstance(step, Send)
        found[step.send] = step
    return found


def _shown(value: Any) -> str:
    """What Jinja prints for a value (the project's finalize prints None as nothing)."""
    return "" if value is None else str(value)


def expected(step: str, c: dict[str, Any]) -> tuple[str | None, str | None, str | None] | None:
    """(subject, text, html) a fresh render gives, for the steps that only print data;
    None for the step that computes with it."""
    name, city, note = (_shown(c.get(k)) for k in ("name", "city", "note"))
    if step == "printed":
        return f"Hi {name}!".strip(), f"{name}|{city}|{note}", None
    if step == "files":
        return city.strip(), f"{name}\n{city}", f"<p>{escape(name)}</p><p>{escape(note)}</p>"
    if step == "localized":
        greeting = "Hi" if c.get("locale") == "en" else "안녕"
        return f"{greeting} {name}".strip(), note, None
    return None


# --- the case format (JSON, so found cases can be saved) ---------------------------------


def decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$date"}:
        return date.fromisoformat(value["$date"])
    if isinstance(value, dict) and set(value) == {"$datetime"}:
        return datetime.fromisoformat(value["$datetime"])
    return value


def contact_of(spec: dict[str, Any]) -> Contact:
    attrs = {k: decode(v) for k, v in spec.get("attrs", {}).items()}
    return Contact(spec["id"], spec.get("email"), None, spec.get("name"), None, attrs)


def check_render(case: dict[str, Any]) -> None:
    """`case`: {"contacts": [{"id", "name", "email", "attrs"}...]}, rendered in order by one
    full renderer and one subjects-only renderer."""
    contacts = [contact_of(c) for c in case["contacts"]]
    full = make_engine(project()).renderer
    subjects = make_engine(project(), subjects_only=True).renderer
    assert isinstance(full, Renderer) and isinstance(subjects, Renderer)
    with no_hang():
        for contact in contacts:
            cv = contact.as_template_value()
            for name, step in steps().items():
                _check_one(full, subjects, name, step, contact, cv)


def _render(renderer: Renderer, step: Send, contact: Contact, cv: dict[str, Any]) -> Any:
    try:
        return renderer.render(
            step, sequence="welcome", channel="email", contact=contact, contact_value=cv, now=NOW
        )
    except RenderFailure as exc:
        assert exc.part in ("subject", "body", "template"), exc
        assert exc.lineno >= 1
        return exc
    # Anything else propagates and fails the property.


def _check_one(
    full: Renderer, subjects: Renderer, name: str, step: Send, c: Contact, cv: dict[str, Any]
) -> None:
    out = _render(full, step, c, cv)
    sim = _render(subjects, step, c, cv)
    want = expected(name, cv)
    if isinstance(out, RenderFailure):
        outcome(f"{name}: render failure")
        assert want is None, f"{name} printed data only, yet failed: {out}"
        # simulate predicts the failures run meets (SPEC §5).
        assert isinstance(sim, RenderFailure), f"{name}: run fails ({out}), simulate does not"
        return
    outcome(f"{name}: rendered")
    assert not isinstance(sim, RenderFailure), f"{name}: simulate fails ({sim}), run does not"
    assert sim.subject == out.subject, (sim.subject, out.subject)
    if want is not None:
        assert (out.subject, out.text, out.html) == want, f"{name}: {cv!r}"
    # Compare with a fresh renderer: the memo must not carry one contact's output to another.
    fresh = _render(make_engine(project()).renderer, step, c, cv)  # type: ignore[arg-type]
    assert (fresh.subject, fresh.text, fresh.html) == (out.subject, out.text, out.html)


# --- strategies --------------------------------------------------------------------------

template_like = st.sampled_from(
    [
        "{{ 7*7 }}",
        "{{7*7}}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% include '/etc/passwd' %}",
        "{{ unsubscribe_url }}",
        "{{ contact.name }}",
        "{#",
        "{%",
        "}}",
        "{{",
        "${HOME}",
        "%(name)s",
        "{name}",
        "{0}",
        "\x00slot\x000\x00",  # the renderer's own slot marker
        "\x00slot\x001\x00",
        "\x00",
        "<script>alert(1)</script>",
        "&amp;",
        "\r\nBcc: x@example.com",
        "\u2028",
        "\x1b[2J",
        "en",
        "",
        " ",
        "김하루",
    ]
)
texts = st.one_of(
    template_like,
    st.text(max_size=12),
    st.lists(st.one_of(template_like, st.text(max_size=4)), max_size=4).map("".join),
)
scalars = st.one_of(
    st.none(),
    texts,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.floats(allow_nan=True),
    st.dates().map(lambda d: {"$date": d.isoformat()}),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: {"$datetime": d.isoformat()}),
)
values = st.one_of(scalars, st.lists(texts, max_size=2), st.dictionaries(texts, texts, max_size=2))

contacts = st.fixed_dictionaries(
    {
        "id": st.one_of(st.just("c1"), texts.filter(bool)),
        "name": st.one_of(st.none(), texts),
        "email": st.just("a@example.com"),
        # Mostly text (what CSV cells give), sometimes any JSON Lines value or a typed one.
        "attrs": st.fixed_dictionaries(
            {
                "city": st.one_of(texts, texts, values),
                "note": st.one_of(texts, texts, values),
                "locale": st.one_of(st.none(), texts),
            },
            optional={"orders": values, "extra": values},
        ),
    }
)


@fuzz
@given(st.fixed_dictionaries({"contacts": st.lists(contacts, min_size=1, max_size=5)}))
def test_contact_data_is_printed_never_evaluated(case: dict[str, Any]) -> None:
    check_render(case)


def test_a_template_as_a_name_prints_literally() -> None:
    attrs = {"city": "{% x %}", "note": "{{ note }}", "locale": None}
    check_render({"contacts": [{"id": "c1", "name": "{{ 7*7 }}", "attrs": attrs}]})
    step = steps()["printed"]
    renderer = make_engine(project()).renderer
    assert renderer is not None
    c = contact_of({"id": "c1", "name": "{{ 7*7 }}", "attrs": {"city": None, "note": None}})
    out = renderer.render(
        step,
        sequence="welcome",
        channel="email",
        contact=c,
        contact_value=c.as_template_value(),
        now=NOW,
    )
    assert out.subject == "Hi {{ 7*7 }}!"
    assert "49" not in (out.text or "")


# --- the saved corpus --------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for path in corpus_cases("render"):
        yield pytest.param(path, id=f"render/{path.name}")


@pytest.mark.parametrize("path", list(_cases()))
def test_saved_case(path: Path) -> None:
    check_render(load_json_case(path))


def save_case(case: dict[str, Any], name: str) -> Path:  # pragma: no cover - a helper
    """Write a failing example into the corpus (after its fix): `save_case(case, "why")`."""
    path = Path(__file__).parent / "corpus" / "render" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(case, indent=1) + "\n", encoding="utf-8")
    return path
