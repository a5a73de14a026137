"""The contract suite's options and HTTP client: `pytest contract --base-url URL`."""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import contract


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes
    path: str = ""


class Api:
    """A small urllib client for the server under test."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        admin: bool | None = None,
        timeout: float = 30,
    ) -> Reply:
        """Send one request and return the reply, whatever its status."""
        if json_body is not None:
            data = json.dumps(json_body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None and content_type:
            req.add_header("Content-Type", content_type)
        if (admin if admin is not None else path.startswith("/_emulator")) and self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, hdrs, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, hdrs, raw = err.code, dict(err.headers), err.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return Reply(status, {k.lower(): v for k, v in hdrs.items()}, body, raw, path)

    def raw(self, request: bytes, timeout: float = 10) -> Reply:
        """Send request bytes as they are on a new connection; return the parsed reply."""
        parts = urllib.parse.urlsplit(self.base)
        with socket.create_connection((parts.hostname, parts.port or 80), timeout) as sock:
            with contextlib.suppress(OSError):  # a server may answer and close mid-send
                sock.sendall(request)
            data = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    data += chunk
        head, _, raw = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        target = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") > 1 else ""
        return Reply(status, headers, body, raw, urllib.parse.urlsplit(target).path)

    def ok(self, method: str, path: str, json_body: Any = None, schema: str | None = None) -> Any:
        """Send a request that must succeed, validating the answer against a schema."""
        reply = self.call(method, path, json_body)
        assert reply.status == 200, (method, path, reply.status, reply.body)
        if schema:
            contract.validate(schema, reply.body)
        return reply.body

    def error(self, reply: Reply, status: int, code: str) -> str:
        """Check an error reply's status, shape and code; return its message."""
        assert reply.status == status, (reply.status, reply.body)
        assert reply.headers.get("content-type", "").startswith("application/json"), reply.raw
        # Segment's surface also puts code and message at the top level, for Segment's libraries.
        segment = reply.path.startswith("/v1/")
        contract.validate("segment-error" if segment else "error", reply.body)
        assert reply.body["error"]["code"] == code, reply.body
        if segment:
            assert (reply.body["code"], reply.body["message"]) == (
                code,
                reply.body["error"]["message"],
            )
        return str(reply.body["error"]["message"])


@dataclass
class Merchant:
    """The merchant a test writes to, with helpers for the tracker surface."""

    api: Api
    id: str
    key: str
    segment_key: str | None = None
    # The journal entries of this test are those after this id.
    journal_start: int = 0

    def segment(
        self,
        path: str,
        body: Any,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST to the Segment API with this merchant's source write key (Basic auth)."""
        import base64

        assert self.segment_key, "the server is strict: pass --segment-write-key"
        token = base64.b64encode(f"{self.segment_key}:".encode()).decode()
        return self.api.call(
            "POST",
            path,
            None if data is not None else body,
            data=data,
            headers={"Authorization": f"Basic {token}", **(headers or {})},
        )

    def journal(self, outcome: str | None = None) -> list[Any]:
        """Return this merchant's journal entries, oldest first."""
        query = f"?merchant_id={self.id}&after_id={self.journal_start}"
        query += f"&outcome={outcome}" if outcome else ""
        return list(self.api.ok("GET", f"/_emulator/requests{query}", schema="journal")["requests"])

    def creds(self) -> dict[str, str]:
        return {"merchant_id": self.id, "write_key": self.key}

    def send(self, call: str, **body: Any) -> Reply:
        return self.api.call("POST", f"/tracker/v1/{call}", {**self.creds(), **body})

    def identify(self, lead_id: str, attributes: dict[str, Any] | None = None, **kw: Any) -> Any:
        reply = self.send("identify", id=lead_id, attributes=attributes or {}, **kw)
        assert reply.status == 200, reply.body
        contract.validate("identify-response", reply.body)
        return reply.body["lead"]

    def track(self, event: str, properties: dict[str, Any] | None = None, **kw: Any) -> Any:
        reply = self.send("track", event=event, properties=properties or {}, **kw)
        assert reply.status == 200, reply.body
        contract.validate("track-response", reply.body)
        return reply.body["event"]

    def path(self, rest: str = "") -> str:
        return f"/_emulator/merchants/{self.id}{rest}"

    def leads(self, query: str = "") -> list[Any]:
        return list(self.api.ok("GET", self.path(f"/leads{query}"), schema="leads")["leads"])

    def lead(self, lead_id: str) -> Any:
        return self.api.ok("GET", self.path(f"/leads/{lead_id}"), schema="lead-detail")

    def events(self, query: str = "") -> list[Any]:
        return list(self.api.ok("GET", self.path(f"/events{query}"), schema="events")["events"])


@pytest.fixture(scope="session")
def api(request: pytest.FixtureRequest) -> Api:
    base = request.config.getoption("--base-url")
    if not base:
        pytest.skip("pass --base-url URL to run the contract suite against a server")
    client = Api(base, request.config.getoption("--admin-token"))
    health = client.call("GET", "/_emulator/health")
    assert health.status == 200, f"{base} does not answer health: {health.status} {health.body}"
    return client


@pytest.fixture(scope="session")
def health(api: Api) -> Any:
    return api.ok("GET", "/_emulator/health", schema="health")


@pytest.fixture
def merchant(api: Api, health: Any, request: pytest.FixtureRequest) -> Iterator[Merchant]:
    """A clean merchant: a fresh id in open mode, the configured one (reset) in strict mode."""
    configured = request.config.getoption("--merchant")
    segment_key = request.config.getoption("--segment-write-key")
    if configured:
        mid, _, key = configured.partition(":")
    elif health.get("mode") == "strict":
        pytest.skip("the server is in strict mode: pass --merchant ID:KEY")
    else:
        mid, key = f"contract-{uuid.uuid4().hex[:12]}", "contract-key"
        segment_key = segment_key or mid  # open mode: a write key names its merchant
    api.ok("DELETE", f"/_emulator/merchants/{mid}")
    entries = api.ok("GET", f"/_emulator/requests?merchant_id={mid}")["requests"]
    start = max((e["id"] for e in entries), default=0)
    yield Merchant(api, mid, key, segment_key, start)
    api.call("DELETE", f"/_emulator/merchants/{mid}")
