"""The renderer's fast path renders exactly what `Template.render` renders, message after
message: nothing a template sets leaks into the next render, and errors still surface."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from journeyctl.engine.model import Contact
from journeyctl.engine.render import (
    Rendered,
    Renderer,
    _Memo,
    unsubscribe_token,
)
from journeyctl.spec.models import ProjectSettings, Send
from journeyctl.spec.templates import file_template, inline_template
from tests.builders import build_tree

NOW = datetime.fromisoformat("2026-11-02T10:00:00+09:00")
LAYOUT = "<html>{% block body %}default{% endblock %}</html>\n"
CHILD = (
    '{% extends "layout.html.j2" %}{% block body %}'
    "{% if seen is defined %}LEAK{% endif %}{% set seen = 1 %}"
    "{% for i in range(2) %}{{ contact.name }}{{ i }}{% endfor %}{% endblock %}"
)


def test_renders_equal_template_render_and_nothing_leaks(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "layout.html.j2": LAYOUT,
            "child.html.j2": CHILD,
            "raw.html.j2": "{% autoescape false %}{{ contact.name }}{% endautoescape %}"
            "|{{ contact.name }}",
        },
    )
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    child = renderer._file("child.html.j2")
    for name in ("<b>김</b>", "Lee", "<b>"):
        scope = {"contact": {"name": name}}
        assert child(scope) == file_template(tmp_path, "child.html.j2").render(scope)
    assert child({"contact": {"name": "<b>"}}) == "<html>&lt;b&gt;0&lt;b&gt;1</html>\n"
    # An autoescape block changes the context's escaping only inside it, message after message.
    raw = renderer._file("raw.html.j2")
    for _ in range(2):
        assert raw({"contact": {"name": "<i>"}}) == "<i>|&lt;i&gt;"
    # An inline (plain text) template is not escaped.
    assert renderer._text("{{ contact.name }}")({"contact": {"name": "<i>"}, "sequence": "s",
                                                 "step": "t"}) == "<i>"  # fmt: skip


def test_render_still_raises_on_undefined_names(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    with pytest.raises(UndefinedError):
        renderer._text("hi {{ nobody }}")({})


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/unsubscribe/{{ token }}",
        "https://x.test/u?c={{contact_id}}&t={{ token }}",
        "https://x.test/{{ token | upper }}",
        "https://x.test/{% if contact_id %}{{ token }}{% endif %}",
        "https://x.test/{{ token }}\n",  # Jinja drops one trailing newline
    ],
)
def test_unsubscribe_url_is_the_rendered_template(tmp_path: Path, url: str) -> None:
    settings = ProjectSettings.model_validate({"timezone": "Asia/Seoul", "unsubscribe_url": url})
    renderer = Renderer(tmp_path, settings, unsubscribe_secret=b"k")
    c = Contact("고객-1", "c1@example.com")
    token = unsubscribe_token(b"k", c.id)
    expected = inline_template(url).render(token=token, contact_id=c.id)
    assert renderer.unsubscribe_url("email", c) == expected


def test_renderer_unsubscribe_token_is_the_hmac_of_the_contact_id(tmp_path: Path) -> None:
    settings = ProjectSettings.model_validate(
        {"timezone": "Asia/Seoul", "unsubscribe_url": "https://x.test/u/{{ token }}"}
    )
    renderer = Renderer(tmp_path, settings, unsubscribe_secret=b"s3cret")
    step = Send.model_validate(
        {"send": "hello", "subject": "Hi {{ contact.name }}", "body": "{% set x = 1 %}{{ x }}"}
    )
    for cid in ("c1", "c2", "c1"):
        c = Contact(cid, f"{cid}@example.com", name=cid.upper())
        out = renderer.render(
            step, sequence="welcome", channel="email", contact=c,
            contact_value=c.as_template_value(), now=NOW,
        )  # fmt: skip
        assert out.unsubscribe_url == f"https://x.test/u/{unsubscribe_token(b's3cret', cid)}"
        assert (out.subject, out.text) == (f"Hi {cid.upper()}", "1")


def test_unsubscribe_url_is_computed_only_when_needed(tmp_path: Path) -> None:
    # Marketing mail always carries it (List-Unsubscribe); other mail only when content names it.
    settings = ProjectSettings.model_validate(
        {"timezone": "Asia/Seoul", "unsubscribe_url": "https://x.test/u/{{ token }}"}
    )
    c = Contact("c1", "c1@example.com", name="Kim")
    plain = Send.model_validate({"send": "receipt", "subject": "Paid", "body": "thanks"})
    inline = Send.model_validate({"send": "r2", "subject": "Paid", "body": "{{ unsubscribe_url }}"})

    def render(renderer: Renderer, step: Send, marketing: bool) -> Rendered:
        return renderer.render(
            step, sequence="orders", channel="email", contact=c,
            contact_value=c.as_template_value(), now=NOW, marketing=marketing,
        )  # fmt: skip

    renderer = Renderer(tmp_path, settings, unsubscribe_secret=b"k")
    url = f"https://x.test/u/{unsubscribe_token(b'k', 'c1')}"
    assert render(renderer, plain, marketing=False).unsubscribe_url is None
    assert render(renderer, plain, marketing=True).unsubscribe_url == url
    out = render(renderer, inline, marketing=False)
    assert (out.unsubscribe_url, out.text) == (url, url)
    # A layout or include under templates/ that names it: computed for every message.
    (tmp_path / "layout.html.j2").write_text('<a href="{{ unsubscribe_url }}">x</a>', "utf-8")
    assert (
        render(Renderer(tmp_path, settings, unsubscribe_secret=b"k"), plain, False).unsubscribe_url
        == url
    )


MEMO_SUBJECTS = [
    "(광고) {% if contact.locale == 'en' %}{{ contact.name }}, hi{% else %}{{ contact.name }}님{% endif %}",
    "{{ '[Haru] on its way' if contact.locale == 'en' else '[하루] 발송' }}",
    "{{ sequence }}/{{ step }}: {{ contact.vip }} {{ contact.orders }} {{ contact.name | upper }}",
    "{{ sender.name }} — {{ contact.plan or 'free' }}",
]


@pytest.mark.parametrize("source", MEMO_SUBJECTS)
def test_memoized_subjects_equal_jinja_for_every_contact(tmp_path: Path, source: str) -> None:
    settings = ProjectSettings.model_validate(
        {"timezone": "Asia/Seoul", "sender": {"name": "하루"}}
    )
    renderer = Renderer(tmp_path, settings)
    assert isinstance(renderer._text(source), _Memo)  # reads only contact attributes
    people = [
        Contact("a", name="Kim", attrs={"locale": "en", "vip": True, "orders": 1, "plan": None}),
        Contact("b", name="이", attrs={"locale": "ko", "vip": 1, "orders": True, "plan": "pro"}),
        Contact("c", name="Kim", attrs={"locale": "en", "vip": True, "orders": 1, "plan": None}),
        Contact("d", name="<b>", attrs={"locale": "en", "vip": False, "orders": 0, "plan": ""}),
        # equal to a's values (True == 1) but printed differently: must not share a's render
        Contact("e", name="Kim", attrs={"locale": "en", "vip": 1, "orders": True, "plan": None}),
    ]
    for step in ("s1", "s2", "s1"):
        for c in people * 2:
            scope = {
                "contact": c.as_template_value(), "sequence": "welcome", "step": step,
                "unsubscribe_url": "u", "sender": {"name": "하루"}, "now": NOW,
            }  # fmt: skip
            assert renderer._text(source)(scope) == inline_template(source).render(scope)


KEYED_SUBJECTS = [
    MEMO_SUBJECTS[0],
    "{{ contact.name }}{{ contact.name }} · {{ contact.plan }}",
    "{% if contact.name %}{{ contact.name }}{% else %}friend{% endif %}",
    "{{ contact.name | upper }} / {{ contact.name }}",
    "{{ contact.name == 'Kim' }} {{ contact.name }}",
]
ODD_NAMES = [
    "Kim", "이민지", "<b>&", "%s {0}", "{{ x }}", "a\\b", "", None, 7, True, "\x00slot\x00",
    "x\x00",
]  # fmt: skip


@pytest.mark.parametrize("source", KEYED_SUBJECTS)
def test_a_memo_serves_exactly_what_jinja_renders_once_rendered(
    tmp_path: Path, source: str
) -> None:
    """Keyed by the values it reads (an attribute only printed is a slot, filled per call):
    each key is rendered once; afterwards simulate's lookup (no scope) gives exactly Jinja's
    output, NULs and markers included, and a key not rendered yet gives None."""
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    memo = renderer._text(source)
    assert isinstance(memo, _Memo)
    rendered: set[tuple[object, ...]] = set()
    for i, name in enumerate(ODD_NAMES * 3):
        for locale in ("en", "ko"):
            cv = {"name": name, "locale": locale, "plan": i % 3 or None}
            scope = {"contact": cv, "sequence": "w", "step": "s", "sender": {}, "now": NOW}
            expected = inline_template(source).render(scope)
            key = tuple((type(cv[a]), cv[a]) for a in memo._attrs)
            # a printed value with a NUL could mimic a marker: rendered each time, never served
            served = not any("\x00" in str(cv[a]) for a in memo._slots)
            looked = memo.lookup(cv, "w", "s")
            if key in rendered and served:
                assert looked == expected
            else:
                assert looked is None
            assert memo(scope) == expected
            assert memo.lookup(cv, "w", "s") == (expected if served else None)
            rendered.add(key)
    assert memo._misses <= len(rendered)
    if source in KEYED_SUBJECTS[:2]:  # the name only printed: a slot, not part of the key
        assert memo._slots and "name" not in memo._attrs
    else:  # the name decides something: it is part of the key
        assert "name" not in memo._slots and "name" in memo._attrs


MARKER = "\x00slot\x000\x00slot\x00"  # what the memo puts in place of the first slot


@pytest.mark.parametrize(
    ("source", "values"),
    [
        # a key attribute, the step name, a sender field and an escaped literal that print
        # exactly a marker: only the slot's own marker may be replaced
        ("{{ contact.name }}{% if contact.plan %}{{ contact.plan }}{% endif %}", {"plan": MARKER}),
        ("{{ contact.name }}-{{ step }}", {"step": MARKER}),
        ("{{ contact.name }}-{{ sender.name }}", {"sender": {"name": MARKER}}),
        ('{{ contact.name }} {{ "\\x00slot\\x000\\x00slot\\x00" }}', {}),
    ],
)
def test_a_marker_printed_by_anything_but_the_slot_is_left_alone(
    tmp_path: Path, source: str, values: dict[str, object]
) -> None:
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    cv = {"name": "Kim", "plan": values.get("plan", "pro")}
    scope = {"contact": cv, "sequence": "w", "step": values.get("step", "s"),
             "sender": values.get("sender", {}), "now": NOW}  # fmt: skip
    for _ in range(2):  # the render that fills the memo, and one served from it
        assert renderer._text(source)(scope) == inline_template(source).render(scope)


@pytest.mark.parametrize(
    "source",
    ["Hi {{ now.year }}", "{{ contact }}", "{{ contact.items }}", "{{ contact.name | truncate(3) }}",
     "{{ unsubscribe_url }}", "{{ contact.name.upper() }}", "{{ range(2) | list }}"],
)  # fmt: skip
def test_templates_reading_anything_else_are_rendered_every_time(
    tmp_path: Path, source: str
) -> None:
    settings = ProjectSettings.model_validate({"timezone": "Asia/Seoul"})
    assert not isinstance(Renderer(tmp_path, settings)._text(source), _Memo)


def test_a_memoized_subject_still_fails_on_a_missing_attribute(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    scope = {"contact": {"name": "Kim"}, "sequence": "w", "step": "s", "sender": {}, "now": NOW}
    with pytest.raises(UndefinedError):
        renderer._text("{{ contact.locale }}")(scope)


def test_a_subject_whose_values_rarely_repeat_stops_being_memoized(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    source = "Hi {{ contact.name | upper }}"  # filtered: the name is part of the key
    memo = renderer._text(source)
    assert isinstance(memo, _Memo)
    for i in range(5000):
        scope = {"contact": {"name": f"n{i}"}, "sequence": "w", "step": "s", "sender": {}}
        assert memo(scope) == f"Hi N{i}"
    assert len(memo._memo) == 4096  # bounded, and past it every render goes straight to Jinja
    assert memo._misses == 4096


def test_subjects_only_renders_the_unsubscribe_url_only_for_a_subject_that_shows_it(
    tmp_path: Path,
) -> None:
    # simulate builds no message (no List-Unsubscribe header): the URL is wanted only when the
    # subject itself shows it, even for marketing mail whose templates name it.
    build_tree(tmp_path, {"mail.html.j2": '<a href="{{ unsubscribe_url }}">x</a>'})
    settings = ProjectSettings.model_validate(
        {"timezone": "Asia/Seoul", "unsubscribe_url": "https://x.test/u/{{ token }}"}
    )
    renderer = Renderer(tmp_path, settings, unsubscribe_secret=b"k", subjects_only=True)
    c = Contact("c1", "c1@example.com", name="Kim")
    plain = Send.model_validate(
        {"send": "a", "subject": "Hi {{ contact.name }}", "template": "mail.html.j2"}
    )
    shown = Send.model_validate(
        {"send": "b", "subject": "Stop: {{ unsubscribe_url }}", "body": "x"}
    )
    out = [
        renderer.render(
            step,
            sequence="s",
            channel="email",
            contact=c,
            contact_value=c.as_template_value(),
            now=NOW,
            marketing=True,
        )
        for step in (plain, shown)
    ]
    assert out[0] == Rendered("Hi Kim", None, None, None)
    url = f"https://x.test/u/{unsubscribe_token(b'k', 'c1')}"
    assert out[1] == Rendered(f"Stop: {url}", None, None, url)


def test_templates_see_now_in_the_zone_given(tmp_path: Path) -> None:
    """`render(..., now=<UTC instant>, tz=...)`: templates read `now` on the contact's clock
    (converted only when a subject may read it, in simulate's subjects-only mode)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    settings = ProjectSettings.model_validate({"timezone": "Asia/Seoul"})
    c = Contact("c1", "c1@example.com", name="Kim")
    at = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 09:30 in Seoul
    seoul = ZoneInfo("Asia/Seoul")
    for step, expected in (
        (
            Send.model_validate(
                {"send": "a", "subject": "{{ now.strftime('%H:%M %Z') }}", "body": "x"}
            ),
            "09:30 KST",
        ),
        (Send.model_validate({"send": "b", "subject": "{{ now.hour }}h", "body": "x"}), "9h"),
        (
            Send.model_validate({"send": "c", "subject": "Hi {{ contact.name }}", "body": "x"}),
            "Hi Kim",
        ),
    ):
        for subjects_only in (True, False):
            renderer = Renderer(tmp_path, settings, subjects_only=subjects_only)
            out = renderer.render(
                step, sequence="s", channel="email", contact=c,
                contact_value=c.as_template_value(), now=at, tz=seoul,
            )  # fmt: skip
            assert out.subject == expected, (step.send, subjects_only)


def test_a_memo_serves_simulate_without_a_scope_once_rendered(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path, ProjectSettings.model_validate({"timezone": "Asia/Seoul"}))
    source = "(광고) {{ 'Hello' if contact.locale == 'en' else '안녕하세요' }}, {{ contact.name }}"
    memo = renderer._text(source)
    assert isinstance(memo, _Memo)
    en, ko = {"locale": "en", "name": "Ada"}, {"locale": "ko", "name": "민지"}
    assert memo.lookup(en, "w", "s") is None  # not rendered yet
    scope = {"contact": en, "sequence": "w", "step": "s", "sender": {}, "now": NOW}
    assert memo(scope) == "(광고) Hello, Ada"
    assert memo.lookup({"locale": "en", "name": "Bo"}, "w", "s") == "(광고) Hello, Bo"
    assert memo.lookup(ko, "w", "s") is None  # another key
    assert memo.lookup(en, "w", "other-step") is None  # the step is part of the key
