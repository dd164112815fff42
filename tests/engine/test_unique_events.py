"""A contact's re-imported duplicate events are one event (SPEC §3): engine.advance._unique."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from journeyctl.engine.advance import _unique
from journeyctl.engine.model import Event

T0 = datetime(2026, 11, 1, tzinfo=UTC)

events = st.lists(
    st.builds(
        lambda name, minutes, props: Event("c1", name, T0 + timedelta(minutes=minutes), props),
        st.sampled_from(["opened", "clicked", "purchased"]),
        st.integers(0, 3),  # few distinct times: many ties and duplicates
        st.sampled_from([(), (("sku", "A"),), (("sku", "B"),)]),
    ),
    max_size=12,
)


def _by_hash(evs: list[Event]) -> list[Event]:
    """The plain definition: the first of each natural key, in import order."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for e in evs:
        if (e.name, e.at, e.props) not in seen:
            seen.add((e.name, e.at, e.props))
            out.append(e)
    return out


@given(events)
def test_the_first_of_each_natural_key_in_time_order(evs: list[Event]) -> None:
    got = _unique(evs)
    expected = sorted(_by_hash(evs), key=lambda e: e.at)  # stable: ties keep import order
    assert [id(e) for e in got] == [id(e) for e in expected]


def test_same_time_different_props_or_names_are_kept() -> None:
    a = Event("c1", "purchased", T0, (("sku", "A"),))
    b = Event("c1", "purchased", T0, (("sku", "B"),))
    c = Event("c1", "clicked", T0)
    again = Event("c1", "purchased", T0, (("sku", "A"),))
    later = Event("c1", "purchased", T0 + timedelta(seconds=1), (("sku", "A"),))
    assert _unique([later, a, b, again, c]) == [a, b, c, later]
    assert _unique([later, a, b, again, c])[0] is a  # the first imported of the duplicates
