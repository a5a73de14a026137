"""Hypothesis properties of the Segment surface: the mapping and Engage audience toggles."""

from __future__ import annotations

import base64
import re
from typing import Any

from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from emulator import create_app, isodate
from emulator.settings import Settings
from tests.strategies import json_values

KEY = "seg-prop"  # open mode: the write key names the merchant
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
_CLIENT = create_app().test_client()


def fresh() -> FlaskClient:
    assert _CLIENT.post("/_emulator/reset").status_code == 200
    return _CLIENT


def send(client: FlaskClient, message: dict[str, Any]) -> None:
    r = client.post(f"/v1/{message['type']}", json=message, headers=AUTH)
    assert r.status_code == 200, r.json
    assert r.json == {"success": True}
    assert "Wishpond-Emulator-Dropped" not in r.headers, client.get("/_emulator/requests").json


# --- a small reference model of facade's identify.traits(aliases), from its documentation ---

ALIASES = [
    ("createdAt", "created_at"),
    ("updatedAt", "updated_at"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("phoneNumber", "phone_number"),
    ("leadScore", "lead_score"),
]
JS_SPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def same_key(a: str, b: str) -> bool:
    """Match keys as facade does: ignoring case and separators."""
    return re.sub(r"[^a-z0-9.]", "", a.lower()) == re.sub(r"[^a-z0-9.]", "", b.lower())


def raw(traits: dict[str, Any], name: str) -> Any:
    return next((v for k, v in traits.items() if same_key(k, name)), None)


def text(value: Any) -> bool:
    """Return whether a value is a string in the browser: a date string there is a Date."""
    return isinstance(value, str) and not isodate.was_date(value)


def reference_traits(user_id: str, traits: dict[str, Any]) -> dict[str, Any]:
    # facade reads every date string as a Date first (checked on its own in test_isodate).
    seen = {**isodate.traverse(traits), "id": isodate.traverse(user_id)}
    out = dict(seen)
    for camel, snake in ALIASES:
        value = raw(seen, camel)
        name = raw(seen, "name")
        if camel == "firstName" and not text(value):
            value = name.strip(JS_SPACE).split(" ")[0] if text(name) else None
        elif camel == "lastName" and not text(value):
            value = None
            if text(name) and " " in name.strip(JS_SPACE):
                cut = name.strip(JS_SPACE).index(" ")
                value = name[cut + 1 :].strip(JS_SPACE)
        elif camel in ("firstName", "lastName"):
            value = value.strip(JS_SPACE)
        if value is None:
            continue
        out[snake] = value
        out.pop(camel, None)
    return out


alias_keys = st.sampled_from(
    [
        "firstName",
        "first_name",
        "FirstName",
        "first-name",
        "FIRST NAME",
        "lastName",
        "last_name",
        "LastName",
        "createdAt",
        "created_at",
        "CreatedAt",
        "updatedAt",
        "updated-at",
        "phoneNumber",
        "phone_number",
        "PhoneNumber",
        "phone",
        "leadScore",
        "lead_score",
        "name",
        "Name",
        "email",
        "id",
        "notDefault",
    ]
)
# No lone surrogates: the emulator refuses them anywhere in a body (tests/test_limits.py).
trait_keys = alias_keys | st.text(
    alphabet=st.characters(blacklist_characters=".", blacklist_categories=["Cs"]), max_size=10
)
names = st.one_of(
    st.text(alphabet=st.sampled_from("ab  \t\u00a0é"), max_size=12),
    st.just("Jane Kim"),
    st.just("Cher"),
    st.just("2024-01-01"),
    st.integers(),
    st.none(),
)
dates = st.sampled_from(["2024-01-01", "2024-06-01T10:00:00+02:00", "2024", "1990-05-17 08:00"])
trait_values = st.one_of(names, dates, json_values, st.lists(dates, max_size=2))
# '.' and '..' are refused as ids: no URL path can name them (tests/test_limits.py).
user_ids = st.text(
    min_size=1, max_size=12, alphabet=st.characters(blacklist_categories=["Cs"])
).filter(lambda u: u not in (".", ".."))


@given(user_ids, st.dictionaries(trait_keys, trait_values, max_size=6))
def test_segment_identify_agrees_with_the_reference_mapping(
    user_id: str, traits: dict[str, Any]
) -> None:
    client = fresh()
    send(client, {"type": "identify", "userId": user_id, "traits": traits})
    leads = client.get(f"/_emulator/merchants/{KEY}/leads").json["leads"]
    assert [x["id"] for x in leads] == [isodate.traverse(user_id)]
    assert leads[0]["attributes"] == reference_traits(user_id, traits)


# Audience Entered/Exited must carry properties.audience_key (an Engage payload).
titles = st.text(min_size=1, max_size=20).filter(lambda t: not t.startswith("Audience "))


@given(titles, st.dictionaries(st.text(max_size=8), json_values | dates, max_size=5))
def test_segment_track_passes_event_and_properties_through(
    event: str, properties: dict[str, Any]
) -> None:
    client = fresh()
    send(client, {"type": "track", "userId": "u1", "event": event, "properties": properties})
    got = client.get(f"/_emulator/merchants/{KEY}/events").json["events"]
    expected = (isodate.traverse(event), isodate.traverse(properties), "u1")
    assert [(e["event"], e["properties"], e["lead_id"]) for e in got] == [expected]


def personas(key: str) -> dict[str, Any]:
    return {
        "personas": {
            "computation_class": "audience",
            "computation_id": "aud_1",
            "computation_key": key,
            "namespace": "spa_1",
            "space_id": "spa_1",
        }
    }


toggle = st.tuples(
    st.sampled_from(["u1", "u2"]),
    st.sampled_from(["order_completed_last_30days", "vip"]),
    st.booleans(),
    st.sampled_from(["identify", "track"]),
)


@given(st.lists(toggle, min_size=1, max_size=15))
def test_engage_audience_traits_toggle_true_and_false(
    changes: list[tuple[str, str, bool, str]],
) -> None:
    client = fresh()
    for user, key, value, style in changes:
        if style == "identify":
            message = {
                "type": "identify",
                "userId": user,
                "traits": {key: value},
                "context": personas(key),
            }
        else:
            message = {
                "type": "track",
                "userId": user,
                "event": "Audience Entered" if value else "Audience Exited",
                "properties": {"audience_key": key, key: value},
                "context": personas(key),
            }
        send(client, message)
    for user in {c[0] for c in changes}:
        lead = client.get(f"/_emulator/merchants/{KEY}/leads/{user}").json
        mine = [(k, v) for u, k, v, _ in changes if u == user]
        assert [(h["key"], h["value"]) for h in lead["audience_history"]] == mine
        current = dict(mine)  # the last value sent per key
        assert lead["audiences"] == current
        for key, value in current.items():
            assert lead["attributes"][key] is value
            filtered = client.get(
                f"/_emulator/merchants/{KEY}/leads?audience.{key}={str(value).lower()}"
            ).json["leads"]
            assert user in [x["id"] for x in filtered]


# -- faithful and strict answers, exactly once ---------------------------------------------------

STRICT = create_app(Settings(segment_responses="strict")).test_client()
valid_messages = st.builds(
    lambda n, kind: (
        {"type": "track", "userId": "u", "event": f"E{n}"}
        if kind
        else {"type": "identify", "userId": f"u{n}", "traits": {"n": n}}
    ),
    st.integers(0, 10**6),
    st.booleans(),
)
invalid_messages = st.one_of(
    st.just({"type": "track", "userId": "u"}),
    st.just({"type": "identify", "traits": {}}),
    st.just({"type": "jump", "userId": "u"}),
    st.builds(
        lambda v: {"type": "track", "userId": "u", "event": "E", "properties": v}, st.integers()
    ),
    st.integers(),
    st.text(max_size=5),
)
mixed = st.lists(
    st.tuples(st.booleans(), valid_messages, invalid_messages), min_size=1, max_size=12
)


def stored(client: FlaskClient) -> list[tuple[str, Any]]:
    got = client.get(f"/_emulator/merchants/{KEY}/events").json["events"]
    return [(e["type"], e["event"] or e["lead_id"]) for e in got]


@given(mixed)
def test_faithful_applies_exactly_the_valid_messages_in_order_and_strict_none(
    picks: list[tuple[bool, dict[str, Any], Any]],
) -> None:
    batch = [good if keep else bad for keep, good, bad in picks]
    valid = [good for keep, good, _ in picks if keep]
    client = fresh()
    r = client.post("/v1/batch", json={"batch": batch}, headers=AUTH)
    assert r.status_code == 200
    assert int(r.headers.get("Wishpond-Emulator-Dropped", 0)) == len(batch) - len(valid)
    assert stored(client) == [(m["type"], m.get("event") or m["userId"]) for m in valid]
    assert STRICT.post("/_emulator/reset").status_code == 200
    r = STRICT.post("/v1/batch", json={"batch": batch}, headers=AUTH)
    assert r.status_code == (200 if len(valid) == len(batch) else 400)
    assert stored(STRICT) == (stored(client) if r.status_code == 200 else [])


ids = st.sampled_from(["a", "b", "c", "d", None])
sent = st.tuples(ids, st.sampled_from(["track", "page", "identify-anon", "invalid"]))


@given(st.lists(st.lists(sent, min_size=1, max_size=6), min_size=1, max_size=5))
def test_each_message_id_is_applied_once_over_any_batches(batches: list[list[Any]]) -> None:
    client = fresh()
    shapes = {
        "track": {"type": "track", "userId": "u", "event": "E"},
        "page": {"type": "page", "userId": "u"},
        "identify-anon": {"type": "identify", "anonymousId": "x"},
        "invalid": {"type": "track", "userId": "u"},
    }
    held: set[str] = set()
    expected: list[str | None] = []
    for batch in batches:
        messages = []
        for message_id, shape in batch:
            message = dict(shapes[shape], messageId=message_id)
            messages.append(message)
            if shape == "invalid" or (message_id is not None and message_id in held):
                continue
            if message_id is not None:
                held.add(message_id)
            if shape == "track":
                expected.append(message_id)
        r = client.post("/v1/batch", json={"batch": messages}, headers=AUTH)
        assert r.status_code == 200
    got = client.get(f"/_emulator/merchants/{KEY}/events").json["events"]
    assert [e["message_id"] for e in got] == expected
    with_ids = [e["message_id"] for e in got if e["message_id"] is not None]
    assert len(with_ids) == len(set(with_ids))
