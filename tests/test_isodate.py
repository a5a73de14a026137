"""facade's ISO-date traversal: vectors, properties, and the published package itself."""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import isodate
from tests.conftest import require_node_package

VECTORS = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "isodate-vectors.json").read_text()
)
ROWS = [
    (group, *row) for group in ("reference", "package_tests", "rules") for row in VECTORS[group]
]


@pytest.mark.parametrize("group,text,wire", ROWS, ids=[f"{g}:{t!r}" for g, t, _ in ROWS])
def test_vectors(group: str, text: str, wire: str) -> None:
    assert isodate.traverse(text) == wire
    if wire != text:
        assert isodate.is_date(text) and isodate.was_date(wire)


def test_traversal_reaches_nested_objects_and_arrays_and_copies() -> None:
    value = {"a": ["2024-01-01", {"b": "2024-06-01T10:00:00+02:00"}], "c": 5, "d": None}
    out = isodate.traverse(value)
    assert out == {
        "a": ["2024-01-01T00:00:00.000Z", {"b": "2024-06-01T08:00:00.000Z"}],
        "c": 5,
        "d": None,
    }
    assert value["a"][0] == "2024-01-01"  # the message itself is left as sent


# Strings that look nothing like a date, and strings close to one.
near_dates = st.builds(
    lambda digits, rest: digits + rest,
    st.text("0123456789", min_size=4, max_size=8),
    st.text("0123456789-:TZ+., ", max_size=20),
)


@given(st.one_of(st.text(), near_dates))
def test_a_string_that_is_no_date_is_never_changed(text: str) -> None:
    if not isodate.is_date(text):
        assert isodate.traverse(text) == text
        assert isodate.traverse({"k": [text]}) == {"k": [text]}


date_texts = st.builds(
    lambda when, tail: when.isoformat()[: len(tail) + 10] if tail else when.date().isoformat(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["", "T01", "T01:02", "T01:02:03", "T01:02:03.456"]),
)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(), date_texts
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
)


@given(values)
def test_only_date_strings_change_and_the_shape_stays(value: Any) -> None:
    def same_shape(before: Any, after: Any) -> None:
        if isinstance(before, dict):
            assert list(after) == list(before)
            for key in before:
                same_shape(before[key], after[key])
        elif isinstance(before, list):
            assert len(after) == len(before)
            for b, a in zip(before, after, strict=True):
                same_shape(b, a)
        elif isodate.is_date(before):
            assert isodate.was_date(after)
        else:
            assert after == before and type(after) is type(before)

    out = isodate.traverse(value)
    same_shape(value, out)
    assert isodate.traverse(out) == out  # the wire form is a fixed point


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.sampled_from(["T", "Tz"]),
)
def test_well_formed_times_agree_with_the_standard_library(
    when: datetime, offset_minutes: int, style: str
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    local = when.replace(tzinfo=zone)
    text = local.isoformat(timespec="milliseconds")
    if style == "Tz" and offset_minutes == 0:
        text = text.replace("+00:00", "Z")
    expected = (
        local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    )
    assert isodate.traverse(text) == expected


def test_agrees_with_the_published_package() -> None:
    """Run @segment/isodate-traverse itself over thousands of date-shaped strings."""
    modules = require_node_package("@segment/isodate-traverse")
    rng = random.Random(20240101)

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    cases = [text for _, text, _ in ROWS]
    for _ in range(4000):
        text = f"{digits(4)}-{digits(2)}-{digits(2)}"
        if rng.random() < 0.9:
            text += rng.choice("T ") + digits(2) + rng.choice([":", ""]) + digits(2)
            if rng.random() < 0.7:
                text += rng.choice([":", ""]) + digits(2)
                if rng.random() < 0.5:
                    text += rng.choice(".,") + digits(rng.randint(1, 7))
            zone = rng.random()
            if zone < 0.3:
                text += "Z"
            elif zone < 0.7:
                text += rng.choice("+-") + digits(2) + rng.choice([":", ""]) + digits(2)
        cases.append(text)
    script = (
        "const t = require('@segment/isodate-traverse');"
        "const xs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(xs.map(x => { const v = t({x}).x;"
        " return v instanceof Date ? v.toISOString() : v; })));"
    )
    node = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        env={"TZ": "UTC", "NODE_PATH": str(modules), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        check=True,
    )
    expected = json.loads(node.stdout)
    wrong = [(c, e, isodate.traverse(c)) for c, e in zip(cases, expected, strict=True)]
    wrong = [w for w in wrong if w[1] != w[2]]
    assert wrong == [], wrong[:10]
