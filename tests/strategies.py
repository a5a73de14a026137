"""Hypothesis strategies shared by the property and stateful tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Keys and strings: any unicode text (Hypothesis leaves out lone surrogates by default).
keys = st.text(min_size=0, max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=8,
)
json_objects = st.dictionaries(keys, json_values, max_size=6)
lead_ids = st.sampled_from(["u1", "u2", "ü3", "lead with spaces", "1e810c197e"])
anon_ids = st.sampled_from(["a1", "a2", "a3", "ánon-4"])
titles = st.text(min_size=1, max_size=30)
