"""Hypothesis properties of the Segment surface: the mapping and Engage audience toggles."""

from __future__ import annotations

import base64
import re
from typing import Any

from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from emulator import create_app
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


def reference_traits(user_id: str, traits: dict[str, Any]) -> dict[str, Any]:
    seen = {**traits, "id": user_id}
    out = dict(seen)
    for camel, snake in ALIASES:
        value = raw(seen, camel)
        name = raw(seen, "name")
        if camel == "firstName" and not isinstance(value, str):
            value = name.strip(JS_SPACE).split(" ")[0] if isinstance(name, str) else None
        elif camel == "lastName" and not isinstance(value, str):
            value = None
            if isinstance(name, str) and " " in name.strip(JS_SPACE):
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
trait_keys = alias_keys | st.text(alphabet=st.characters(blacklist_characters="."), max_size=10)
names = st.one_of(
    st.text(alphabet=st.sampled_from("ab  \t\u00a0é"), max_size=12),
    st.just("Jane Kim"),
    st.just("Cher"),
    st.integers(),
    st.none(),
)
trait_values = st.one_of(names, json_values)
user_ids = st.text(min_size=1, max_size=12, alphabet=st.characters(blacklist_categories=["Cs"]))


@given(user_ids, st.dictionaries(trait_keys, trait_values, max_size=6))
def test_segment_identify_agrees_with_the_reference_mapping(
    user_id: str, traits: dict[str, Any]
) -> None:
    client = fresh()
    send(client, {"type": "identify", "userId": user_id, "traits": traits})
    leads = client.get(f"/_emulator/merchants/{KEY}/leads").json["leads"]
    assert [x["id"] for x in leads] == [user_id]
    assert leads[0]["attributes"] == reference_traits(user_id, traits)


@given(
    st.text(min_size=1, max_size=20), st.dictionaries(st.text(max_size=8), json_values, max_size=5)
)
def test_segment_track_passes_event_and_properties_through(
    event: str, properties: dict[str, Any]
) -> None:
    client = fresh()
    send(client, {"type": "track", "userId": "u1", "event": event, "properties": properties})
    got = client.get(f"/_emulator/merchants/{KEY}/events").json["events"]
    assert [(e["event"], e["properties"], e["lead_id"]) for e in got] == [(event, properties, "u1")]


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
