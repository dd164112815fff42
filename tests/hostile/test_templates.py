"""Hostile templates and expressions (issue 14, items 1 and 4): validate locates what it can
know (nesting, constants over the budget, sandbox escapes, dynamic includes); at render time a
budget (output size, values built, loop iterations and calls) makes that contact's message fail
alone with the reason. Limits: docs/DECISIONS.md, "Hostile project files"."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.hostile.common import (
    CONTACTS,
    EVENTS,
    NOW,
    assert_no_trace,
    journeyctl,
    project,
)

SEND_TEMPLATE = """\
trigger: {event: subscribed}
ad: false
steps:
  - send: hello
    subject: hi
    template: hello.txt
"""


def _validate_template(tmp_path: Path, template: str) -> str:
    root = project(tmp_path, {"hello.yaml": SEND_TEMPLATE, "templates/hello.txt": template})
    r = journeyctl("validate", root)
    assert_no_trace(r)
    assert r.code == 1, r.output
    return r.stderr


def test_huge_constant_is_flagged_by_validate_without_building_it(tmp_path: Path) -> None:
    err = _validate_template(tmp_path, "hi\n{{ 'a' * 10**9 }}\n")
    assert (
        "templates/hello.txt:2:1: error[template-limit]: a value of over 2 MiB: "
        "it fails for every contact"
    ) in err


def test_huge_power_is_flagged(tmp_path: Path) -> None:
    err = _validate_template(tmp_path, "{{ 7 ** (10**9) }}")
    assert "hello.txt:1:1: error[template-limit]: a number of over 4096 bits" in err


def test_deep_nesting_in_a_template_is_located(tmp_path: Path) -> None:
    err = _validate_template(tmp_path, "hi\n{{ " + "(" * 500 + "1" + ")" * 500 + " }}\n")
    assert "templates/hello.txt:2:" in err
    assert "error[template-limit]: template: nested deeper than 64 levels" in err


def test_deep_blocks_and_loops_are_located(tmp_path: Path) -> None:
    err = _validate_template(tmp_path / "ifs", "{% if 1 %}" * 600 + "x" + "{% endif %}" * 600)
    assert "error[template-limit]: template: nested deeper than 64 levels" in err
    loops = "".join(f"{{% for i{k} in [1] %}}" for k in range(25)) + "x" + "{% endfor %}" * 25
    err = _validate_template(tmp_path / "loops", loops)
    assert "error[template-limit]: template: loops nested more than 10 deep" in err
    chain = "{{ " + " + ".join(["1"] * 2000) + " }}"  # flat, but a 2000-deep tree
    err = _validate_template(tmp_path / "chain", chain)
    assert "error[template-limit]: template: nested deeper than 64 levels" in err


def test_deep_nesting_in_inline_subject_and_audience(tmp_path: Path) -> None:
    deep = "(" * 500 + "true" + ")" * 500
    text = f"""\
        trigger: {{event: subscribed}}
        ad: false
        audience: "{deep}"
        steps:
          - send: hello
            subject: "{{{{ {deep} }}}}"
            body: "{{{{ {"not " * 2000}true }}}}"
        """
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": text}))
    assert_no_trace(r)
    assert "hello.yaml:3:12: error[template-limit]: expression: nested deeper than 64" in r.stderr
    assert "hello.yaml:6:15: error[template-limit]: subject: nested deeper than 64" in r.stderr
    assert "hello.yaml:7:12: error[template-limit]: body: nested deeper than 64" in r.stderr


def _run(tmp_path: Path, template: str) -> tuple[str, list[dict[str, object]]]:
    root = project(tmp_path / "p", {"hello.yaml": SEND_TEMPLATE, "templates/hello.txt": template})
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (tmp_path / "events.csv").write_text(EVENTS, encoding="utf-8")
    db = tmp_path / "j.db"
    r = journeyctl(
        "run", root, "--db", db, "--contacts", tmp_path / "contacts.csv",
        "--events", tmp_path / "events.csv", "--now", NOW,
    )  # fmt: skip
    assert_no_trace(r)
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    m = journeyctl("messages", "--db", db, "--status", "all", "--format", "json")
    assert m.code == 0, m.output
    return r.stdout, json.loads(m.stdout)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
            "RenderLimitError: more than 250,000 loop iterations and calls in one render",
        ),
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "RenderLimitError: more than 250,000 loop iterations and calls in one render",
        ),
        (
            "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
            "RenderLimitError: the output is larger than 2 MiB",
        ),
        (
            "{% set n = 10 ** 9 %}{{ 'a' * n }}",
            "RenderLimitError: a value of over 2 MiB",
        ),
    ],
    ids=["nested-range", "empty-nested-range", "output-size", "computed-constant"],
)
def test_a_runaway_render_fails_that_contact_alone(tmp_path: Path, body: str, reason: str) -> None:
    template = "{% if contact.locale == 'ko' %}" + body + "{% endif %}hello\n"
    summary, messages = _run(tmp_path, template)
    assert "1 delivered, 0 retrying, 1 failed" in summary
    by_contact = {m["contact_id"]: m for m in messages}
    assert by_contact["c2"]["status"] == "sent"
    failed = by_contact["c1"]
    assert (failed["status"], failed["reason"]) == ("failed", "render_error")
    assert "hello.txt:1: template" in str(failed["error"])
    assert reason in str(failed["error"])


# Each of these, rendered in the sandbox, must stop with a RenderLimitError (or the sandbox's
# SecurityError) instead of building gigabytes or looping for ever; run in a child process so
# a regression is a failed test, not a hung one.
HOSTILE = {
    "mul": ("{{ 'a' * 10**9 }}", "RenderLimitError"),
    "mul-list": ("{{ ([1, 2] * 10**9)|length }}", "RenderLimitError"),
    "pow": ("{{ 2 ** (10**9) }}", "RenderLimitError"),
    "int-mul": ("{% set n = 7 ** 4000 %}{{ n * n * n * n }}", "RenderLimitError"),
    "add-doubling": (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        "RenderLimitError",
    ),
    "concat-doubling": (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "RenderLimitError",
    ),
    "macro-tree": (
        "{% macro d(n) %}{% if n %}{{ d(n-1) }}{{ d(n-1) }}{% else %}x{% endif %}{% endmacro %}"
        "{{ d(40) }}",
        "RenderLimitError",
    ),
    "macro-output": (
        "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}{% endmacro %}"
        "{% for i in range(1000) %}{{ m() }}{% endfor %}",
        "RenderLimitError",
    ),
    "recursive-loop": (
        "{% for x in [1, 2, 3] recursive %}{% if loop.depth < 30 %}{{ loop([1, 2, 3]) }}"
        "{% endif %}{% endfor %}",
        "RenderLimitError",
    ),
    "center": ("{{ 'a'|center(10**9) }}", "RenderLimitError"),
    "indent": ("{{ ('a\\n' * 1000)|indent(10**6) }}", "RenderLimitError"),
    "ljust": ("{{ 'a'.ljust(10**9) }}", "RenderLimitError"),
    "str-format-width": ("{{ '{:>1000000000}'.format('a') }}", "RenderLimitError"),
    "printf-width": ("{{ '%1000000000s' % 'a' }}", "RenderLimitError"),
    "printf-star": ("{{ '%*s'|format(10**9, 'a') }}", "RenderLimitError"),
    "join": ("{% set s = 'a' * 1000000 %}{{ ([s] * 50000)|join }}", "RenderLimitError"),
    "replace": ("{{ ('a' * 100000)|replace('', 'x' * 100) }}", "RenderLimitError"),
    "batch": ("{{ [1]|batch(10**9, 'x')|list|length }}", "RenderLimitError"),
    "slice": ("{{ [1]|slice(10**9)|list|length }}", "RenderLimitError"),
    "lipsum": ("{{ lipsum(10**6) }}", "RenderLimitError"),
    "class": ("{{ ''.__class__.__mro__ }}", "SecurityError"),
    "attr-class": ("{{ ''|attr('__class__') }}", "SecurityError"),
    "format-escape": ("{{ '{0.__class__}'.format('a') }}", "SecurityError"),
    "attr-format-escape": ("{{ '{0.__class__}'|attr('format')('a') }}", "SecurityError"),
    "format-map-escape": ("{{ '{x.__class__}'.format_map({'x': 1}) }}", "SecurityError"),
}

_CHILD = textwrap.dedent(
    """
    import json, sys
    from journeyctl.spec.templates import inline_template
    out = {}
    for name, source in json.loads(sys.stdin.read()).items():
        try:
            out[name] = "rendered " + str(len(inline_template(source).render({})))
        except Exception as exc:
            out[name] = type(exc).__name__ + ": " + str(exc)[:200]
    print(json.dumps(out))
    """
)


def _render_all(sources: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(sources),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, str] = json.loads(proc.stdout)
    return result


def test_hostile_renders_stop_with_a_reason() -> None:
    got = _render_all({name: source for name, (source, _) in HOSTILE.items()})
    wrong = {
        name: got[name] for name, (_, error) in HOSTILE.items() if not got[name].startswith(error)
    }
    assert not wrong


def test_ordinary_templates_render_as_before() -> None:
    sources = {
        "arith": "{{ 1 + 2 }} {{ 'ab' * 3 }} {{ 2 ** 10 }} {{ '%05.1f'|format(3.14159) }}",
        "loops": "{% for i in range(3) %}{{ loop.index }}{{ i ~ '-' }}{% endfor %}",
        "macro": "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m('a') }}{{ m('b') }}",
        "format": "{{ '{:>5}|{:,}'.format('a', 1234567) }} {{ 'x'|center(7) }}",
        "filters": "{{ ['a', 'b']|join(', ') }} {{ 'aXa'|replace('X', 'yy') }}",
        "recursive": "{% for x in [[1, [2]], 3] recursive %}"
        "{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}{% endfor %}",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys\nfrom journeyctl.spec.templates import inline_template\n"
            "print(json.dumps({k: inline_template(v).render({}) "
            "for k, v in json.loads(sys.stdin.read()).items()}))",
        ],
        input=json.dumps(sources),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "arith": "3 ababab 1024 003.1",
        "loops": "10-21-32-",
        "macro": "<a><b>",
        "format": "    a|1,234,567    x   ",
        "filters": "a, b ayya",
        "recursive": "123",
    }


def test_sandbox_escapes_are_flagged_by_validate(tmp_path: Path) -> None:
    template = textwrap.dedent(
        """\
        {{ ''|attr('__class__') }}
        {{ '{0.__class__}'|attr('format')('a') }}
        {{ contact|attr(contact.locale) }}
        {{ '{0.__init__.__globals__}'.format(contact) }}
        {{ contact.locale.format(1) }}
        {{ '{x[0]}'.format_map(contact) }}
        {{ '{} and {:>3}'.format('fine', 'ok') }}
        """
    )
    err = _validate_template(tmp_path, template)
    lines = [line for line in err.splitlines() if "error[unsafe-attribute]" in line]
    assert [line.split("hello.txt:")[1].split(": error")[0] for line in lines] == [
        "1:13", "2:26", "3:12", "4:31", "5:19", "6:13",
    ]  # fmt: skip
    assert "'__class__' is refused by the template sandbox" in lines[0]
    assert "|attr('format') is refused (a known sandbox escape)" in lines[1]
    assert "|attr() with a computed name is refused" in lines[2]
    assert "a format string reading attributes or items" in lines[3]
    assert ".format() on a computed string is refused" in lines[4]
    assert "a format string reading attributes or items ('{x[0]}')" in lines[5]


def test_dynamic_include_is_refused_by_validate_and_run(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "hello.yaml": SEND_TEMPLATE,
            "templates/hello.txt": "hi\n{% include 'footer_' ~ contact.locale ~ '.txt' %}\n",
            "templates/footer_ko.txt": "안녕",
        },
    )
    r = journeyctl("validate", root)
    assert_no_trace(r)
    assert (
        "templates/hello.txt:2:4: error[dynamic-include]: {% include %} of a computed name"
    ) in r.stderr
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    for args in (
        ["run", root, "--db", tmp_path / "j.db", "--contacts", tmp_path / "contacts.csv"],
        ["preview", root, "hello", "hello", "--contacts", tmp_path / "contacts.csv",
         "--contact", "c2"],
    ):  # fmt: skip
        r = journeyctl(*args)
        assert_no_trace(r)
        assert r.code == 1, r.output
        assert "error(s)" in r.stderr and "validate" in r.stderr


def test_huge_constant_in_an_audience_is_flagged(tmp_path: Path) -> None:
    text = """\
        trigger: {event: subscribed}
        ad: false
        audience: "contact.locale == 'a' * 10**9"
        steps:
          - send: hello
            subject: hi
            body: hello
        """
    r = journeyctl("validate", project(tmp_path, {"hello.yaml": text}))
    assert_no_trace(r)
    assert (
        "hello.yaml:3:12: error[template-limit]: expression: a value of over 2 MiB: "
        "it fails for every contact"
    ) in r.stderr
