"""Realistic request bodies: tracker identify/track and Segment batches (~200 B of properties)."""

from __future__ import annotations

import base64
import json
from typing import Any

from common import MERCHANT, WRITE_KEY


def compact(value: Any) -> str:
    """Return compact JSON, as browser and server clients send it."""
    return json.dumps(value, separators=(",", ":"))


def properties(i: int) -> dict[str, Any]:
    """Return about 200 bytes of track properties, varying with i."""
    return {
        "plan": ("Startup", "Growth", "Enterprise")[i % 3],
        "price": 49.0 + i % 50,
        "currency": "USD",
        "coupon": f"SPRING-{i % 997:04d}",
        "url": f"https://shop.example.com/checkout/step-{i % 5}?cart={i:08d}",
        "referrer": f"https://www.example.org/blog/post-{i % 113}",
        "items": i % 7 + 1,
    }


def attributes(i: int) -> dict[str, Any]:
    """Return identify attributes for lead i."""
    return {
        "email": f"lead{i}@example.com",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "company": f"Company {i % 311}",
        "plan": ("Startup", "Growth", "Enterprise")[i % 3],
    }


def identify(i: int) -> dict[str, Any]:
    """Return a tracker identify body for lead i."""
    return {
        "merchant_id": MERCHANT,
        "write_key": WRITE_KEY,
        "anonymous_id": f"anon-{i}",
        "id": f"lead-{i}",
        "attributes": attributes(i),
    }


def track(i: int) -> dict[str, Any]:
    """Return a tracker track body for visitor i."""
    return {
        "merchant_id": MERCHANT,
        "write_key": WRITE_KEY,
        "anonymous_id": f"anon-{i}",
        "event": ("Signed Up", "Viewed Pricing", "Completed Order")[i % 3],
        "properties": properties(i),
    }


def small_track(i: int) -> dict[str, Any]:
    """Return a tracker track body of about 100 bytes: no properties."""
    return {
        "merchant_id": MERCHANT,
        "write_key": WRITE_KEY,
        "anonymous_id": f"anon-{i}",
        "event": ("Signed Up", "Viewed Pricing")[i % 2],
    }


def segment_track(i: int) -> dict[str, Any]:
    """Return one Segment track message for user i."""
    return {
        "type": "track",
        "userId": f"lead-{i}",
        "anonymousId": f"anon-{i}",
        "event": ("Signed Up", "Viewed Pricing", "Completed Order")[i % 3],
        "properties": properties(i),
        "messageId": f"msg-{i}",
        "timestamp": "2026-11-29T10:00:00.000Z",
    }


def segment_batch(start: int, size: int) -> dict[str, Any]:
    """Return a Segment batch of size track messages."""
    return {"batch": [segment_track(i) for i in range(start, start + size)]}


def segment_auth() -> str:
    """Return the Basic auth header value Segment clients send (write key, no password)."""
    return "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


def lines(kind: str, count: int) -> list[str]:
    """Return count compact bodies of one kind: identify, track or small_track."""
    make = {"identify": identify, "track": track, "small_track": small_track}[kind]
    return [compact(make(i)) for i in range(count)]


def state(events: int, per_lead: int = 10) -> dict[str, Any]:
    """Return a state document: one merchant, leads with per_lead track events each."""
    stamp = "2026-11-29T10:00:00.000Z"
    leads = -(-events // per_lead)
    return {
        "version": 1,
        "merchants": {
            MERCHANT: {
                "leads": [
                    {
                        "id": f"lead-{i}",
                        "attributes": attributes(i),
                        "audiences": {},
                        "anonymous_ids": [f"anon-{i}"],
                        "created_at": stamp,
                        "updated_at": stamp,
                        "event_count": min(per_lead, events - i * per_lead),
                        "audience_history": [],
                    }
                    for i in range(leads)
                ],
                "visitors": [
                    {"anonymous_id": f"anon-{i}", "lead_id": f"lead-{i}"} for i in range(leads)
                ],
                "events": [
                    {
                        "seq": n + 1,
                        "type": "track",
                        "lead_id": f"lead-{n // per_lead}",
                        "anonymous_id": f"anon-{n // per_lead}",
                        "event": ("Signed Up", "Viewed Pricing", "Completed Order")[n % 3],
                        "properties": properties(n),
                        "attributes": None,
                        "source": "tracker",
                        "received_at": stamp,
                    }
                    for n in range(events)
                ],
            }
        },
    }


def fill(store: Any, events: int, per_lead: int = 10, batch: int = 1) -> int:
    """Apply events to store as the tracker surface would; return the payload bytes.

    Each lead gets one identify then per_lead - 1 tracks, every body decoded from its own JSON
    text as a request's would be. batch > 1 applies that many calls at once (faster set-up).
    """
    from emulator.calls import Call
    from emulator.limits import decode_json

    def loads(text: str) -> Any:
        return decode_json(text.encode())

    payload = 0
    pending: list[Any] = []
    for n in range(events):
        lead = n // per_lead
        if n % per_lead == 0:
            text = compact(attributes(lead))
            call = Call("identify", f"lead-{lead}", f"anon-{lead}", attributes=loads(text))
        else:
            body = loads(compact(track(n)))
            text = compact(body["properties"])
            call = Call("track", f"lead-{lead}", f"anon-{lead}", body["event"], body["properties"])
        payload += len(text)
        pending.append(call)
        if len(pending) >= batch:
            store.apply(MERCHANT, pending)
            pending = []
    if pending:
        store.apply(MERCHANT, pending)
    return payload
