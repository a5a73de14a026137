"""Hypothesis: the emulator's verdict on a call equals jsonschema's on the same message.

Plans are generated from the keywords tracking plans use (types, required, enums, patterns,
ranges, formats, closed properties, not/anyOf), under every draft a rule may name; calls are
sent to the Segment surface and the event's violations read back over HTTP.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from emulator import create_app
from emulator.planfast import FORMATS, compile_rs
from emulator.planschema import RuleSchema

AUTH = {"Authorization": "Basic " + base64.b64encode(b"plan-prop:").decode()}
PLAN = "/_emulator/merchants/plan-prop/tracking-plan"
_CLIENT = create_app().test_client()
NAMES = ("a", "b", "c")
DRAFTS = (
    None,
    "http://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-07/schema#",
    "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema",
)
TYPES = ("string", "number", "integer", "boolean", "null", "object", "array")
PATTERNS = ("^[A-Z]", "^a$", "[0-9]", "^(?!x)", "b$", "^$")
FORMATS_USED = ("date-time", "email", "date", "uuid", "ipv4")
# Values near each format's edge: what a lenient check would let through.
NEAR = {
    "date-time": ["2026-01-15T10:02:00Z", "2026-02-30T10:00:00Z", "2026-01-15T10:02:00+0000"],
    "email": ["j@x.io", "jx.io", "@"],
    "date": ["2026-01-15", "2026-13-01", "2026-1-5"],
    "uuid": ["5f0c7a4e-8f4b-4c1e-9a39-0c6c5a2b8f10", "5f0c7a4e8f4b4c1e9a390c6c5a2b8f10", "x"],
    "ipv4": ["10.0.0.1", "10.0.0.256", "010.0.0.1"],
}
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 1.5, -2.5, 1e300]),
    st.sampled_from(["", "a", "A", "a\n", "b", "x1", "Zed", "j@x.io", "2026-01-15"]),
    st.sampled_from(["2026-01-15T10:02:00Z", "2026-02-30T10:00:00Z", "2026-01-15T10:02:00+0000"]),
    st.text(max_size=4),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def leaf(draw: st.DrawFn, draft: str | None) -> dict[str, Any]:
    """Draw a property's schema: a few keywords of those plans use."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))
        out["type"] = types[0] if len(types) == 1 else types
    choice = draw(st.integers(0, 9))
    if choice == 0:
        out["enum"] = draw(st.lists(SCALARS, min_size=1, max_size=3, unique_by=repr))
    elif choice == 1 and draft != DRAFTS[1]:
        out["const"] = draw(SCALARS)
    elif choice == 2:
        out["pattern"] = draw(st.sampled_from(PATTERNS))
    elif choice == 3:
        out[draw(st.sampled_from(["minLength", "maxLength"]))] = draw(st.integers(0, 3))
    elif choice == 4:
        out[draw(st.sampled_from(["minimum", "maximum"]))] = draw(st.integers(-2, 2))
        if draft != DRAFTS[1] and draw(st.booleans()):
            out["exclusiveMaximum"] = draw(st.integers(-2, 2))
    elif choice == 5:
        out["format"] = draw(st.sampled_from(FORMATS_USED))
        out["examples"] = NEAR[out["format"]]  # an annotation: the values the test tries
    elif choice == 6:
        out["items"] = {"type": draw(st.sampled_from(TYPES))}
    elif choice == 7:
        out["not"] = {"type": draw(st.sampled_from(TYPES))}
    elif choice == 8:
        out["anyOf"] = [
            {"type": t} for t in draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2))
        ]
    return out


@st.composite
def rule_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a TRACK rule's schema of the whole message, as Segment writes them."""
    draft = draw(st.sampled_from(DRAFTS))
    names = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    inner: dict[str, Any] = {"type": "object", "properties": {n: draw(leaf(draft)) for n in names}}
    required = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    if required:
        inner["required"] = required
    closed = draw(st.sampled_from([None, False, {"type": "string"}]))
    if closed is not None:
        inner["additionalProperties"] = closed
    schema: dict[str, Any] = {"type": "object", "properties": {"context": {}, "properties": inner}}
    if draft is not None:
        schema["$schema"] = draft
    return schema


def jsonschema_accepts(schema: dict[str, Any], message: dict[str, Any]) -> bool:
    """Return jsonschema's verdict, with the draft the schema names and the same formats."""
    cls = validator_for(schema, default=validator_for({}))
    return bool(cls(schema, format_checker=FORMATS).is_valid(message))


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw a rule's schema and event properties, often the values its keywords are about."""
    schema = draw(rule_schemas())
    planned = schema["properties"]["properties"]["properties"]
    properties = draw(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=3))
    for name, leaf_schema in planned.items():
        near = leaf_schema.get("examples") or leaf_schema.get("enum")
        if near and draw(st.booleans()):
            properties[name] = draw(st.sampled_from(near))
    return schema, properties


@given(case=cases())
def test_the_emulators_verdict_is_jsonschemas(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    schema, properties = case
    client = _CLIENT
    assert client.delete("/_emulator/merchants/plan-prop").status_code == 200
    rule = {"type": "TRACK", "key": "Planned", "version": 1, "jsonSchema": schema}
    answer = client.put(PLAN, json={"rules": [rule]})
    assert answer.status_code == 200, answer.json
    message = {"type": "track", "userId": "u1", "event": "Planned", "properties": properties}
    sent = client.post("/v1/track", json=message, headers=AUTH)
    assert sent.status_code == 200 and "Wishpond-Emulator-Dropped" not in sent.headers
    (event,) = client.get("/_emulator/merchants/plan-prop/events").json["events"]
    conforms = event["violations"] == []
    assert conforms == jsonschema_accepts(schema, message), event["violations"]
    # The compiled check, when there is one, never accepts what jsonschema rejects.
    accepts = RuleSchema(schema).accepts
    if accepts is not None and accepts(message):
        assert conforms


@settings(max_examples=settings().max_examples * 2)
@given(case=cases())
def test_the_compiled_check_never_accepts_what_jsonschema_rejects(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    # Without HTTP, so many more plans: the fast path is where the two could part.
    schema, properties = case
    accepts = RuleSchema(schema).accepts
    message = {"type": "track", "event": "Planned", "properties": properties}
    if accepts is not None and accepts(message):
        assert jsonschema_accepts(schema, message)


@given(event=st.text(min_size=1, max_size=8))
def test_an_event_without_a_rule_is_unplanned(event: str) -> None:
    client = _CLIENT
    assert client.delete("/_emulator/merchants/plan-prop").status_code == 200
    rule = {"type": "TRACK", "key": "Planned", "version": 1, "jsonSchema": {}}
    client.put(PLAN, json={"rules": [rule]})
    message = {"type": "track", "userId": "u1", "event": event, "properties": {}}
    assert client.post("/v1/track", json=message, headers=AUTH).status_code == 200
    (got,) = client.get("/_emulator/merchants/plan-prop/events").json["events"]
    expected = [] if event == "Planned" else ["unplanned_event"]
    assert [v["kind"] for v in got["violations"]] == expected


def test_plain_schemas_get_the_compiled_check() -> None:
    simple = {
        "$schema": DRAFTS[3],
        "type": "object",
        "properties": {
            "properties": {"properties": {"a": {"type": "string", "pattern": "^[A-Z]"}}}
        },
    }
    assert RuleSchema(simple).accepts is not None
    for odd in ({"format": "email"}, {"pattern": "^(?!x)"}, {"$ref": "#"}, {"items": [{}]}):
        assert RuleSchema({"properties": {"x": odd}}).accepts is None, odd


def test_plain_patterns_get_the_rust_check_and_others_do_not() -> None:
    def rule(pattern: str, draft: str = DRAFTS[3]) -> dict[str, Any]:
        return {"$schema": draft, "properties": {"x": {"type": "string", "pattern": pattern}}}

    assert compile_rs(rule("^[A-Z]{3}$")) is not None
    assert compile_rs(rule("^(a|b)+[0-9]{2,4}$")) is not None
    # Read differently by Python and ECMA regexes, or a draft whose integers differ: left out.
    for pattern in ("^x{,3}$", "\\d", "(?i)a", "\\w+", "^a{2,}$"):
        assert compile_rs(rule(pattern)) is None, pattern
    assert compile_rs(rule("^a$", DRAFTS[1])) is None
    # What it checks, it checks: "USD" passes, "usd" is left to the other checks.
    check = compile_rs(rule("^[A-Z]{3}$"))
    assert check is not None
    assert check({"x": "USD"}) and not check({"x": "usd"}) and not check({"x": 2**70})
