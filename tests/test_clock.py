"""The emulator's clock: durations, forward-only moves over HTTP, and what reads the clock."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

import contract
from emulator import create_app
from emulator.clock import (
    DAY,
    HOUR,
    MINUTE,
    Clock,
    format_duration,
    parse_duration,
    parse_time,
    until,
)

CLOCK = "/_emulator/clock"


def move(client: FlaskClient, **body: Any) -> Any:
    r = client.post(CLOCK, json=body)
    assert r.status_code == 200, r.json
    contract.validate("clock-moved", r.json)
    return r.json


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("6h", 6 * HOUR),
        ("90m", 90 * MINUTE),
        ("1h 30m", 90 * MINUTE),
        ("1d2h", DAY + 2 * HOUR),
        (" 3h 12m ", 3 * HOUR + 12 * MINUTE),
        ("1.5d", 36 * HOUR),
        ("0s", 0),
        (21600, 6 * HOUR),
        (0.25, 250),
    ],
)
def test_durations_parse(text: Any, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    "text",
    [
        "",
        "6",
        "h",
        "6x",
        "-1h",
        "6h-",
        "1h,2m",
        True,
        None,
        -1,
        1e13,
        "1234567890123d",
        "1s 1s 1s 1s 1s",
        "1.2345h",
        "\u0663h",
        "6h\n",
    ],
)
def test_non_durations_are_none(text: Any) -> None:
    assert parse_duration(text) is None


@given(st.integers(min_value=0, max_value=3650 * DAY))
def test_format_duration_reads_back(ms: int) -> None:
    assert parse_duration(format_duration(ms)) == ms


def test_until_rounds_up_to_a_step_that_reaches() -> None:
    assert until(3 * HOUR + 11 * MINUTE + 1) == "3h 12m"
    assert until(90_500) == "2m"
    assert until(59 * MINUTE + 59_000) == "1h"
    assert until(41_200) == "42s"
    assert until(0) == "1s"
    assert until(6 * HOUR) == "6h"


def test_clock_only_moves_forward_even_when_real_time_goes_back() -> None:
    real = [1_000_000]
    clock = Clock(real=lambda: real[0])
    clock.move_to(1_000_000 + HOUR)
    assert clock.millis() == 1_000_000 + HOUR and clock.offset_ms == HOUR
    clock.move_to(5)  # a target already passed changes nothing
    assert clock.offset_ms == HOUR
    real[0] -= 10_000  # the machine's clock steps back
    assert clock.millis() == 1_000_000 + HOUR
    clock.catch_up(30 * MINUTE)
    assert clock.offset_ms == HOUR
    clock.catch_up(2 * HOUR)
    assert clock.offset_ms == 2 * HOUR


def test_get_clock(client: FlaskClient) -> None:
    r = client.get(CLOCK)
    assert r.status_code == 200
    contract.validate("clock", r.json)
    assert r.json["offset_seconds"] == 0


def test_advance_and_set_move_the_clock_and_received_at(client: FlaskClient) -> None:
    before = parse_time(client.get(CLOCK).json["now"])
    body = move(client, advance="6h")
    assert body["offset_seconds"] >= 6 * 3600 and body["syncs"] == []
    assert parse_time(body["now"]) - before >= 6 * HOUR  # type: ignore[operator]
    event = client.post(
        "/tracker/v1/track",
        json={"merchant_id": "m", "write_key": "k", "anonymous_id": "a", "event": "E"},
    ).json["event"]
    assert parse_time(event["received_at"]) >= parse_time(body["now"])  # type: ignore[operator]
    [entry] = [
        e for e in client.get("/_emulator/requests").json["requests"] if e["surface"] == "tracker"
    ]
    assert entry["at"] >= body["now"]
    body = move(client, set="2999-01-01T00:00:00Z")
    assert body["now"] == "2999-01-01T00:00:00.000Z"
    later = parse_time(move(client, advance=90)["now"])
    assert later is not None and 0 <= later - parse_time(body["now"]) - 90_000 < 1000  # type: ignore[operator]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"advance": "-1h"}, "clock_backwards", "advance"),
        ({"advance": -5}, "clock_backwards", "advance"),
        ({"set": "2001-01-01T00:00:00Z"}, "clock_backwards", "set"),
        ({"advance": "6 hours"}, "invalid_duration", "advance"),
        ({"advance": True}, "invalid_duration", "advance"),
        ({"set": "tomorrow"}, "invalid_time", "set"),
        ({"set": "9999-12-31T23:59:59Z", "advance": "1h"}, "invalid_request", None),
        ({}, "invalid_request", None),
        ({"forward": "1h"}, "invalid_request", "forward"),
    ],
)
def test_bad_moves_are_400_and_change_nothing(
    client: FlaskClient, body: Any, code: str, field: str | None
) -> None:
    move(client, advance="1h")
    before = client.get("/_emulator/state").json
    r = client.post(CLOCK, json=body)
    assert r.status_code == 400, r.json
    assert r.json["error"]["code"] == code
    if field is not None:
        assert r.json["error"]["field"] == field and field in r.json["error"]["message"]
    assert client.get("/_emulator/state").json == before


def test_moving_past_year_9999_is_refused_and_the_clock_stops_there(client: FlaskClient) -> None:
    move(client, set="9999-12-31T00:00:00Z")
    r = client.post(CLOCK, json={"advance": "2d"})
    assert r.status_code == 400 and r.json["error"]["code"] == "clock_out_of_range"
    move(client, set="9999-12-31T23:59:59.999Z")
    time.sleep(0.01)  # real time passes; the clock has nowhere to go
    assert client.get(CLOCK).json["now"] == "9999-12-31T23:59:59.999Z"
    body = {"merchant_id": "m", "write_key": "k", "anonymous_id": "a", "event": "E"}
    assert client.post("/tracker/v1/track", json=body).status_code == 200


def test_unknown_query_parameters_are_refused(client: FlaskClient) -> None:
    for r in (client.get(CLOCK + "?x=1"), client.post(CLOCK + "?wait=1", json={"advance": 1})):
        assert r.status_code == 400 and r.json["error"]["code"] == "unknown_parameter"
    assert client.get(CLOCK).json["offset_seconds"] == 0


def test_clock_survives_export_and_import_and_never_goes_back(client: FlaskClient) -> None:
    move(client, advance="2d")
    state = client.get("/_emulator/state").json
    assert state["clock"] == {"offset_seconds": 2 * 86400}
    contract.validate("state", state)
    other = create_app().test_client()
    assert other.put("/_emulator/state", json=state).status_code == 200
    assert other.get(CLOCK).json["offset_seconds"] == 2 * 86400
    # An import never moves a clock back: the larger offset wins.
    ahead = create_app().test_client()
    move(ahead, advance="5d")
    assert ahead.put("/_emulator/state", json=state).status_code == 200
    assert ahead.get(CLOCK).json["offset_seconds"] == 5 * 86400
    # An old state file, without a clock, still loads and leaves the clock alone.
    del state["clock"]
    assert ahead.put("/_emulator/state", json=state).status_code == 200
    assert ahead.get(CLOCK).json["offset_seconds"] == 5 * 86400


def test_reset_keeps_the_clock(client: FlaskClient) -> None:
    move(client, advance="1d")
    client.post("/_emulator/reset")
    assert client.get(CLOCK).json["offset_seconds"] == 86400


def test_admin_token_guards_the_clock() -> None:
    from emulator.settings import Settings

    client = create_app(Settings(admin_token="t0k")).test_client()
    assert client.get(CLOCK).status_code == 401
    assert client.post(CLOCK, json={"advance": "1h"}).status_code == 401
    ok = client.post(CLOCK, json={"advance": "1h"}, headers={"Authorization": "Bearer t0k"})
    assert ok.status_code == 200


def test_a_time_before_year_one_in_utc_is_refused_with_a_400(client: FlaskClient) -> None:
    # 00:48 on 0001-01-01 at +13:40 is still year 0 in UTC: no ISO-8601 clock reading shows it.
    before = client.get("/_emulator/clock").json
    r = client.post("/_emulator/clock", json={"set": "0001-01-01T00:48:10.821713+13:40"})
    assert r.status_code == 400 and r.json["error"]["code"] != "internal_error"
    assert "set" in r.json["error"]["message"]
    assert client.get("/_emulator/clock").json["offset_seconds"] == before["offset_seconds"]


def test_an_advance_grows_the_offset_by_exactly_its_duration_however_long_it_takes() -> None:
    from itertools import count

    from emulator.clock import HOUR, Clock
    from emulator.scheduler import Scheduler
    from emulator.store import Store

    ticks = count(1_700_000_000_000, 7)  # real time moves 7 ms at every reading
    clock = Clock(real=lambda: next(ticks))
    scheduler = Scheduler(Store(clock=clock), clock)
    for _ in range(5):
        scheduler.move_clock("advance", by=6 * HOUR)
    assert clock.offset_ms == 30 * HOUR
