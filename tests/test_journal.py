"""The request journal: request capture, clipped entries, a bound in bytes, and its long-poll."""

from __future__ import annotations

import base64
import gzip
import json
import os
import threading
import time
from typing import Any

from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.journal import ITEMS_MAX, TEXT_MAX
from emulator.settings import Settings


def journal(client: FlaskClient, query: str = "") -> Any:
    r = client.get("/_emulator/requests" + query)
    assert r.status_code == 200, r.json
    contract.validate("journal", r.json)
    return r.json


def test_a_rejected_call_can_be_read_back_without_its_credentials(client: FlaskClient) -> None:
    raw = '{"merchant_id": "m1", "write_key": "k", "anonymous_id": "a", "event": ""}'
    r = client.post(
        "/tracker/v1/track",
        data=raw,
        content_type="text/plain",
        headers={"Authorization": "Bearer s3cret", "Cookie": "session=s3cret", "X-Trace": "t1"},
    )
    assert r.status_code == 400
    (entry,) = journal(client)["requests"]
    assert entry["body"] == raw and entry["body_bytes"] == len(raw)
    assert entry["body_truncated"] is False
    assert entry["headers"]["X-Trace"] == "t1"
    assert entry["headers"]["Content-Type"] == "text/plain"
    assert "s3cret" not in json.dumps(entry)
    assert not {"Authorization", "Cookie"} & set(entry["headers"])


def test_the_body_is_kept_up_to_the_limit_and_marked_when_cut() -> None:
    client = create_app(Settings(journal_body_bytes=10)).test_client()
    body = {"merchant_id": "m1", "write_key": "k", "id": "é" * 40}  # two bytes a letter
    client.post("/tracker/v1/identify", json=body)
    (entry,) = journal(client)["requests"]
    sent = json.dumps(body).encode()
    assert entry["body_truncated"] is True and entry["body_bytes"] == len(sent)
    # The first 10 bytes, without the half of a character the cut split.
    assert entry["body"] == sent[:10].decode("utf-8", "ignore")


def test_a_gzip_body_is_journaled_inflated() -> None:
    client = create_app(Settings()).test_client()
    raw = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "E"}]}).encode()
    client.post(
        "/v1/batch",
        data=gzip.compress(raw),
        headers={"Content-Encoding": "gzip", "Authorization": "Basic bTE6"},
        content_type="application/json",
    )
    (entry,) = journal(client)["requests"]
    assert entry["body"] == raw.decode() and entry["status"] == 200


def test_lists_and_texts_in_an_entry_are_clipped() -> None:
    client = create_app(Settings(segment_responses="strict")).test_client()
    bad = [{"type": "track", "userId": "u"} for _ in range(2000)]  # each lacks its event
    r = client.post("/v1/batch", json={"batch": bad}, headers={"Authorization": "Basic bTE6"})
    assert r.status_code == 400 and len(r.json["error"]["errors"]) == 2000
    skipped = [{"type": "page", "userId": "u", "name": "x" * 100} for _ in range(300)]
    client.post("/v1/batch", json={"batch": skipped}, headers={"Authorization": "Basic bTE6"})
    rejected, skipping = journal(client)["requests"]
    assert len(rejected["error"]["errors"]) == ITEMS_MAX
    assert rejected["clipped"]["error.errors"] == 2000
    assert len(skipping["skipped"]) == ITEMS_MAX and skipping["clipped"]["skipped"] == 300
    long_text = "x" * (TEXT_MAX + 500)
    client.post(
        "/tracker/v1/track",
        json={"merchant_id": "m1", "write_key": "k", "event": "E"},
        headers={"X-Long": long_text},
    )
    last = journal(client)["requests"][-1]
    assert len(last["headers"]["X-Long"]) == TEXT_MAX
    assert last["clipped"]["headers.X-Long"] == len(long_text)


def test_the_journal_is_bounded_in_bytes_and_counts_what_fell_off() -> None:
    client = create_app(Settings(journal_max_bytes=200_000)).test_client()
    for _ in range(30):
        # Rejected (no event), each keeping 16 KiB of a body that does not compress.
        noise = base64.b64encode(os.urandom(16_000)).decode()
        client.post("/tracker/v1/track", json={"merchant_id": "m1", "x": noise})
    snap = journal(client)
    kept = len(snap["requests"])
    assert 1 < kept < 30 and snap["dropped"] == 30 - kept
    assert snap["bytes"] <= snap["max_bytes"] == 200_000
    assert [e["id"] for e in snap["requests"]] == list(range(31 - kept, 31))  # the newest


def test_every_dropped_message_is_kept_and_held_packed() -> None:
    client = create_app(Settings()).test_client()
    bad = [{"type": "track", "userId": f"u{i}"} for i in range(3000)]  # each lacks its event
    r = client.post("/v1/batch", json={"batch": bad}, headers={"Authorization": "Basic bTE6"})
    assert r.status_code == 200 and r.headers["Wishpond-Emulator-Dropped"] == "3000"
    snap = journal(client)
    (entry,) = snap["requests"]
    assert [d["index"] for d in entry["drops"]] == list(range(3000))
    # Held deflated: the repeated reasons cost a fraction of the entry's JSON.
    assert snap["bytes"] * 5 < len(json.dumps(entry))


def test_the_journal_long_poll_returns_once_a_call_is_journaled(client: FlaskClient) -> None:
    client.post("/tracker/v1/identify", json={"merchant_id": "m1", "write_key": "k", "id": "u"})
    last = journal(client)["requests"][-1]["id"]
    answered: list[tuple[float, Any]] = []

    def poll() -> None:
        r = client.get(f"/_emulator/requests?after_id={last}&wait=20&min_count=1")
        answered.append((time.monotonic(), r.json))

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.3)
    assert answered == []  # still waiting: nothing newer yet
    sent = time.monotonic()
    client.post("/tracker/v1/track", json={"merchant_id": "m1", "write_key": "k"})  # rejected
    waiter.join(15)
    ((at, body),) = answered
    assert at - sent < 10  # released by the call, not by the 20 s wait
    assert [e["status"] for e in body["requests"]] == [400]


def test_the_journal_long_poll_parameters_are_checked(client: FlaskClient) -> None:
    for query in ("wait=-1", "wait=1e9", "wait=nan", "min_count=-2", "after_id=x"):
        r = client.get("/_emulator/requests?" + query)
        assert r.status_code == 400 and r.json["error"]["code"] == "invalid_parameter", query
    started = time.monotonic()
    assert journal(client, "?wait=0.2&min_count=1")["requests"] == []
    assert time.monotonic() - started >= 0.2  # it did wait
