"""The render budget is checked before a filter or string method builds its result, not after
(review finding: `indent`, `wordwrap`, `tojson(indent)`, `str.replace` and `str.join` built
gigabytes before the size check saw them)."""

from __future__ import annotations

import pytest

from journeyctl.spec.templates import RenderLimitError, inline_template

BLOWUPS = [
    "{{ (('a\\n' * 500000) | indent(10000))[:3] }}",
    "{{ ('a ' * 100000) | wordwrap(5, wrapstring='b' * 10000) }}",
    "{{ ({'a': [1, 2]} | tojson(indent=1000000))[:3] }}",
    "{{ ('a' * 1000000).replace('a', 'b' * 10000)[:3] }}",
    "{{ ('a' * 2000000).join(['x'] * 600)[:3] }}",
]


@pytest.mark.parametrize("source", BLOWUPS)
def test_a_blow_up_is_refused_before_it_is_built(source: str) -> None:
    with pytest.raises(RenderLimitError):
        inline_template(source).render()


def test_the_same_filters_and_methods_still_work_at_normal_sizes() -> None:
    out = inline_template(
        "{{ 'ab\\ncd' | indent(2) }}|{{ 'a b c' | wordwrap(3) }}|{{ {'a': 1} | tojson(2) }}"
        "|{{ 'a,b'.replace(',', ';') }}|{{ '-'.join(['a', 'b']) }}"
    ).render()
    assert out == 'ab\n  cd|a b\nc|{\n  "a": 1\n}|a;b|a-b'
