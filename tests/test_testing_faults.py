"""Faults from a test: client.fault() as a context manager, and drops on the real server."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from emulator.testing import EmulatorAPIError, EmulatorClient

BODY = {"merchant_id": "shop", "write_key": "k", "anonymous_id": "a", "event": "Paid"}


def raw_post(url: str, path: str, body: dict[str, Any]) -> bytes:
    """POST over a bare socket and return every byte the server sends before it closes."""
    parts = urlsplit(url)
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head + data)
        received = b""
        while chunk := sock.recv(65536):  # b"" is EOF: the server closed the connection
            received += chunk
            if b"\r\n\r\n" in received and b'"event"' in received:
                break  # an answer came (a keep-alive connection stays open after it)
        return received


def events(client: EmulatorClient) -> list[dict[str, Any]]:
    return client.merchant("shop").events()


def test_the_context_manager_removes_its_rule_and_keeps_the_hits(
    wishpond_emulator: EmulatorClient,
) -> None:
    url = wishpond_emulator.url + "/tracker/v1/track"
    with wishpond_emulator.fault(
        match={"path": "/tracker/v1/track"}, action={"status": 503}, times=2
    ) as rule:
        assert (rule.hits, rule.remaining) == (0, 2)
        assert [requests.post(url, json=BODY, timeout=5).status_code for _ in range(3)] == [
            503,
            503,
            200,
        ]
        assert (rule.hits, rule.remaining) == (2, 0)
        assert [f["id"] for f in wishpond_emulator.faults()] == [rule.id]
    assert wishpond_emulator.faults() == []
    assert (rule.removed, rule.hits, rule.remaining) == (True, 2, 0)
    assert "hits=2" in repr(rule)


def test_a_rule_removed_by_a_reset_exits_quietly(wishpond_emulator: EmulatorClient) -> None:
    with wishpond_emulator.fault(action={"status": 500}, probability=0.5) as rule:
        wishpond_emulator.reset()
        assert rule.hits == 0 and rule.removed
    with pytest.raises(EmulatorAPIError) as refused:
        wishpond_emulator.fault(action={"drop": "before", "status": 500})
    assert refused.value.status == 400 and "action.drop" in str(refused.value)


def test_drop_before_closes_the_connection_with_no_byte_and_applies_nothing(
    wishpond_emulator: EmulatorClient,
) -> None:
    with wishpond_emulator.fault(action={"drop": "before"}, times=1) as rule:
        assert raw_post(wishpond_emulator.url, "/tracker/v1/track", BODY) == b""
        assert events(wishpond_emulator) == []
        answered = raw_post(wishpond_emulator.url, "/tracker/v1/track", BODY)
    assert answered.startswith(b"HTTP/1.1 200 ")
    [entry, _] = wishpond_emulator.requests(surface="tracker")["requests"]
    assert (entry["status"], entry["fault_id"]) == (0, rule.id)


def test_drop_after_applies_the_call_then_sends_nothing(
    wishpond_emulator: EmulatorClient,
) -> None:
    with wishpond_emulator.fault(action={"drop": "after"}, times=1):
        assert raw_post(wishpond_emulator.url, "/tracker/v1/track", BODY) == b""
    assert [e["event"] for e in events(wishpond_emulator)] == ["Paid"]
    with (
        pytest.raises(requests.ConnectionError),
        wishpond_emulator.fault(action={"drop": "after"}, times=1),
    ):
        requests.post(wishpond_emulator.url + "/tracker/v1/track", json=BODY, timeout=5)


def test_a_merchants_rule_fails_only_its_calls(
    wishpond_emulator: EmulatorClient, wishpond_merchant: Any
) -> None:
    url = wishpond_emulator.url + "/tracker/v1/track"
    mine = {**BODY, "merchant_id": wishpond_merchant.id}
    with wishpond_merchant.fault({"status": 503}, times=1) as rule:
        assert rule.rule["match"] == {"merchant_id": wishpond_merchant.id}
        assert requests.post(url, json=BODY, timeout=5).status_code == 200  # another merchant
        assert requests.post(url, json=mine, timeout=5).status_code == 503
        assert requests.post(url, json=mine, timeout=5).status_code == 200
    assert rule.hits == 1
