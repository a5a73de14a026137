"""Requests the HTTP server refuses before the app sees them still get the JSON error body."""

from __future__ import annotations

import pytest

from contract.conftest import Api

TRACK = b'{"merchant_id": "m", "write_key": "k", "anonymous_id": "a", "event": "E"}'


def request(head: str, body: bytes = b"") -> bytes:
    """Return a POST to the tracker with the given extra header lines and body."""
    return (
        "POST /tracker/v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{head}\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    "raw,status,code",
    [
        (request("Transfer-Encoding: gzip\r\n"), 400, "unsupported_transfer_encoding"),
        (request("Transfer-Encoding: chunked, gzip\r\n"), 400, "unsupported_transfer_encoding"),
        (request("Content-Length: -5\r\n", TRACK), 400, "malformed_request"),
        (request("Content-Length: 12abc\r\n", TRACK), 400, "malformed_request"),
        (request("Transfer-Encoding: chunked\r\n", b"zz\r\n" + TRACK + b"\r\n0\r\n\r\n"), 400,
         "malformed_request"),
        (request("Transfer-Encoding: chunked\r\n", b"4\r\nabcdef\r\n0\r\n\r\n"), 400,
         "malformed_request"),
        (b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 300_000 +
         b"\r\n\r\n", 431, "request_header_fields_too_large"),
        (b"GET /_emulator/health?" + b"q" * 300_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
         431, "request_header_fields_too_large"),
        (b"GET /x HTTP/1.1\r\nBad Header Line\r\n\r\n", 400, "malformed_request"),
    ],
    ids=["te-gzip", "te-chunked-gzip", "cl-negative", "cl-not-digits", "chunk-size-bad",
         "chunk-too-long", "headers-too-large", "url-too-long", "header-line-malformed"],
)  # fmt: skip
def test_framing_errors_answer_json(api: Api, raw: bytes, status: int, code: str) -> None:
    reply = api.raw(raw)
    api.error(reply, status, code)
    assert reply.body["error"]["message"].endswith(".")


def test_a_framing_error_on_the_segment_api_is_shaped_as_segment_answers(api: Api) -> None:
    raw = request("Transfer-Encoding: gzip\r\n").replace(b"/tracker/v1/track", b"/v1/batch")
    # The check of a /v1/ reply includes the top-level code and message Segment's libraries read.
    api.error(api.raw(raw), 400, "unsupported_transfer_encoding")
