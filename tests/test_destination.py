"""The analytics.js Wishpond mapping, as pure functions, against the reference vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import destination
from emulator.destination import Skip, TrackerCall

VECTORS = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "segment-vectors.json").read_text()
)
ALL = VECTORS["reference"] + VECTORS["extra"]


def test_fixture_holds_every_reference_row() -> None:
    # The reference table has eight rows; each is one vector, in the table's order.
    calls = [v["call"] for v in VECTORS["reference"]]
    assert calls == [
        "identify('1e810c197e', {name: 'Jane Kim', email: 'jane.kim@example.com'})",
        "identify('id')",
        "identify({trait: true})",
        "identify('id', {firstName: 'A', lastName: 'B'})",
        "identify('id', {createdAt: '2024-01-01T00:00:00.000Z', leadScore: 5, notDefault: 1})",
        "identify('id', {name: 'Cher'})",
        "track('Signed Up', {plan: 'Startup', source: 'Analytics Academy'})",
        "track('event')",
    ]


@pytest.mark.parametrize("vector", ALL, ids=[v["name"] for v in ALL])
def test_vector(vector: dict[str, Any]) -> None:
    mapped = destination.map_message(vector["segment"])
    expected = vector["wishpond"]
    if expected is None:
        assert mapped == Skip(vector["segment"]["type"], vector["skip_reason"])
        return
    assert isinstance(mapped, TrackerCall) and mapped.method == expected["method"]
    if mapped.method == "identify":
        assert [mapped.user_id, mapped.traits] == expected["args"]
    else:
        assert [mapped.event, mapped.properties] == expected["args"]


def test_last_name_keeps_facades_offset_quirk() -> None:
    # facade finds the space in the trimmed name but slices the untrimmed one.
    traits = destination.identify_traits("u", {"name": "  Jane Kim"})
    assert (traits["first_name"], traits["last_name"]) == ("Jane", "e Kim")


def test_first_matching_key_wins_even_when_null() -> None:
    traits = destination.identify_traits("u", {"lead_score": None, "leadScore": 3})
    assert traits == {"lead_score": None, "leadScore": 3, "id": "u"}


def test_input_traits_are_not_mutated() -> None:
    traits = {"firstName": "A"}
    destination.identify_traits("u", traits)
    assert traits == {"firstName": "A"}


@pytest.mark.parametrize(
    "value,expected",
    [("abc", "abc"), (42, "42"), (42.0, "42"), ("", None), (None, None), (True, None)],
)
def test_segment_id(value: Any, expected: str | None) -> None:
    assert destination.segment_id(value) == expected


def test_track_copies_properties() -> None:
    props = {"plan": "x"}
    mapped = destination.map_message(
        {"type": "track", "userId": "u", "event": "E", "properties": props}
    )
    assert isinstance(mapped, TrackerCall) and mapped.properties == props
    assert mapped.properties is not props


# Keys that match no alias under facade's case- and separator-insensitive lookup.
PLAIN_KEY = st.text("abcdeghijkmoqsvwxyz_-", min_size=1, max_size=8).filter(
    lambda k: k not in ("id", "name")
)
VALUE = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))


@given(st.dictionaries(PLAIN_KEY, VALUE, max_size=6), st.text(min_size=1, max_size=8))
def test_other_traits_pass_through_and_id_is_added(traits: dict[str, Any], uid: str) -> None:
    assert destination.identify_traits(uid, traits) == {**traits, "id": uid}
