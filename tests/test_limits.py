"""One nesting, Unicode and id rule for every way state comes in; nothing stored answers 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from emulator import limits
from emulator.cli import main
from emulator.errors import EmulatorError

CREDS = {"merchant_id": "m1", "write_key": "k"}


def nested(depth: int) -> Any:
    """Return a value whose deepest level is `depth` (a bare scalar is depth 0)."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def state_with(properties: Any, lead_id: str = "u1") -> dict[str, Any]:
    event = {"type": "track", "lead_id": lead_id, "event": "Deep", "properties": properties}
    return {"version": 1, "merchants": {"m1": {"leads": [{"id": lead_id}], "events": [event]}}}


@pytest.mark.parametrize(
    "text,where",
    [
        ('{"a": "\\ud800"}', "a"),
        ('{"a": ["x", {"b": "\\udfff tail"}]}', "a[1].b"),
        ('{"\\udc00k": 1}', "\\udc00k"),
        ('["\\ude00\\ud83d"]', "[0]"),  # the halves of a pair, in the wrong order
    ],
)
def test_a_lone_surrogate_is_refused_and_located(text: str, where: str) -> None:
    with pytest.raises(EmulatorError) as caught:
        limits.decode_json(text.encode())
    assert caught.value.code == "invalid_unicode" and caught.value.message.startswith(where)


def test_a_surrogate_pair_is_one_character() -> None:
    assert limits.decode_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


@pytest.mark.parametrize("depth,ok", [(63, True), (64, False), (5000, False)])
def test_nesting_is_bounded_for_bodies(depth: int, ok: bool) -> None:
    raw = (
        json.dumps(nested(depth)).encode()
        if depth < 900
        else b'{"a":' * depth + b"1" + b"}" * depth
    )
    if ok:
        assert limits.decode_json(raw) == nested(depth)
    else:
        with pytest.raises(EmulatorError, match="nested too deeply"):
            limits.decode_json(raw)


def test_the_deepest_body_accepted_round_trips_through_the_state(client: FlaskClient) -> None:
    deepest = nested(limits.MAX_DEPTH - 2)  # the body and its properties take two levels
    r = client.post(
        "/tracker/v1/track", json={**CREDS, "id": "u1", "event": "E", "properties": deepest}
    )
    assert r.status_code == 200
    exported = client.get("/_emulator/state")
    assert exported.status_code == 200
    assert client.put("/_emulator/state", json=exported.json).status_code == 200
    assert client.get("/_emulator/state").json == exported.json


@pytest.mark.parametrize("depth", [980, 5000])
def test_a_state_nested_too_deeply_is_refused_and_nothing_changes(
    client: FlaskClient, depth: int
) -> None:
    client.post("/tracker/v1/identify", json={**CREDS, "id": "keep"})
    before = client.get("/_emulator/state").get_data()
    raw = json.dumps(state_with(None)).replace("null", '{"a":' * depth + "1" + "}" * depth)
    r = client.put("/_emulator/state", data=raw, content_type="application/json")
    assert r.status_code == 400 and "nested too deeply" in r.json["error"]["message"]
    assert client.get("/_emulator/state").get_data() == before


def test_stored_values_at_the_deepest_level_answer_on_every_route(client: FlaskClient) -> None:
    deepest = nested(limits.STATE_DEPTH - 6)  # the state wraps properties in six levels
    assert client.put("/_emulator/state", json=state_with(deepest)).status_code == 200
    for path in (
        "/_emulator/state",
        "/_emulator/merchants/m1/leads",
        "/_emulator/merchants/m1/leads/u1",
        "/_emulator/merchants/m1/events",
        "/_emulator/requests",
    ):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("depth", [980, 5000])
def test_an_import_nested_too_deeply_is_one_line_and_exit_2(
    tmp_path: Path, depth: int, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    deep = '{"a":' * depth + "1" + "}" * depth
    path.write_text(json.dumps(state_with(None)).replace("null", deep))
    assert main(["--import", str(path)], {}) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nested too deeply" in err and str(path) in err


@pytest.mark.parametrize(
    "doc,problem",
    [
        (state_with({}, lead_id="x" * 257), "257 characters"),
        (state_with({}, lead_id=".."), "cannot be named in a URL path"),
        ({"merchants": {"..": {}}}, "merchants"),
    ],
)
def test_state_ids_follow_the_rule_the_surfaces_follow(
    client: FlaskClient, tmp_path: Path, doc: Any, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = client.put("/_emulator/state", json=doc)
    assert r.status_code == 400 and problem in r.json["error"]["message"]
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(doc))
    assert main(["--import", str(path)], {}) == 2
    assert problem in capsys.readouterr().err


def test_an_import_with_a_lone_surrogate_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(state_with({"x": "placeholder"})).replace("placeholder", "\\ud800"))
    assert main(["--import", str(path)], {}) == 2
    assert "surrogate" in capsys.readouterr().err


def test_a_numeric_user_id_is_checked_after_it_becomes_a_string(client: FlaskClient) -> None:
    auth = {"Authorization": "Basic bTE6"}
    r = client.post("/v1/identify", json={"userId": 10**300}, headers=auth)
    # Refused (or, where Segment's answers are faithful, dropped), and journaled with why.
    assert r.status_code == 400 or r.headers.get("Wishpond-Emulator-Dropped") == "1"
    entry = client.get("/_emulator/requests").json["requests"][-1]
    assert "userId is 301 characters" in json.dumps(entry)
    assert client.get("/_emulator/merchants/m1/leads").json["leads"] == []
    r = client.post("/v1/batch", json={"batch": [{"type": "identify", "userId": 10**255}]},
                    headers=auth)  # fmt: skip
    assert r.status_code == 200
    assert [x["id"] for x in client.get("/_emulator/merchants/m1/leads").json["leads"]] == [
        str(10**255)
    ]


@pytest.mark.parametrize("lead_id", [".", ".."])
def test_dot_segments_are_no_lead_or_merchant_ids(client: FlaskClient, lead_id: str) -> None:
    r = client.post("/tracker/v1/identify", json={**CREDS, "id": lead_id})
    assert r.status_code == 400 and r.json["error"]["field"] == "id"
    r = client.post("/tracker/v1/identify", json={**CREDS, "merchant_id": lead_id, "id": "u"})
    assert r.status_code == 400 and r.json["error"]["field"] == "merchant_id"
    # Refused, or (Segment's answers being faithful) dropped: no lead either way.
    client.post("/v1/identify", json={"userId": lead_id}, headers={"Authorization": "Basic bTE6"})
    assert client.get("/_emulator/merchants/m1/leads").json["leads"] == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**80), max_value=2**80) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(value=JSON_VALUES, spaced=st.booleans())
def test_decoding_reads_every_document_as_the_standard_library_does(
    value: Any, spaced: bool
) -> None:
    """The fast decoder and json agree on every value and its type (an int stays an int)."""
    text = json.dumps(value, indent=1 if spaced else None)
    got = limits.decode_json(f"[{text}]".encode())
    want = json.loads(f"[{text}]")
    assert json.dumps(got) == json.dumps(want)  # floats, big integers and key order alike
    assert repr(got) == repr(want)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"n": NaN}', "NaN is not valid JSON"),
        ('{"n": 1e999}', "1e999 is too large for a JSON number"),
        ('{"n": 1,}', "The body is not valid JSON: Expecting property name"),
    ],
)
def test_what_the_fast_decoder_refuses_is_explained_as_before(text: str, message: str) -> None:
    with pytest.raises(EmulatorError) as info:
        limits.decode_json(text.encode())
    assert message in str(info.value)


def test_bodies_decoded_apart_share_their_keys() -> None:
    """Millions of stored events hold one copy of each short key, not one per event."""
    first = limits.decode_json(b'{"plan": "Growth", "price": 49}')
    second = limits.decode_json(b'{"plan": "Startup", "price": 9}')
    assert [id(k) for k in first] == [id(k) for k in second]
