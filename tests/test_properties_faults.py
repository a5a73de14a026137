"""A random schedule of faults over a random sequence of calls, sent by a client that retries:
every call it saw acknowledged is applied exactly once, none twice, all in order."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from waitress.channel import ClientDisconnected
from werkzeug.test import Client

from emulator import create_app
from emulator.server import dropping
from emulator.settings import Settings

MERCHANT = "shop"
# Faults a retrying client must survive. A fault answering 2xx without applying is a lie no
# client can see through, so the schedule has none.
ACTIONS = st.one_of(
    st.sampled_from([500, 502, 503]).map(lambda s: {"status": s}),
    st.just({"status": 429, "headers": {"Retry-After": "1"}}),
    st.sampled_from([500, 503]).map(lambda s: {"status": s, "apply": True}),
    st.sampled_from(["before", "after"]).map(lambda d: {"drop": d}),
)
MATCHES = st.sampled_from(
    [
        {},
        {"surface": "tracker"},
        {"surface": "segment"},
        {"path": "/v1/batch"},
        {"merchant_id": MERCHANT},
        {"path": "/tracker/v1/track", "method": "POST"},
    ]
)
RULES = st.fixed_dictionaries(
    {"match": MATCHES, "action": ACTIONS},
    optional={"times": st.integers(1, 3), "probability": st.sampled_from([0.3, 0.7])},
)
# A call: a tracker track (one message id) or a Segment batch of one to three messages.
CALL = st.one_of(st.just(("tracker", 1)), st.integers(1, 3).map(lambda n: ("segment", n)))


def request(kind: str, ids: list[str]) -> tuple[str, dict[str, Any]]:
    if kind == "tracker":
        body = {"merchant_id": MERCHANT, "write_key": "k", "anonymous_id": "a", "event": ids[0]}
        return "/tracker/v1/track", {**body, "message_id": ids[0]}
    batch = [{"type": "track", "userId": "u", "event": i, "messageId": i} for i in ids]
    return "/v1/batch", {"writeKey": MERCHANT, "batch": batch}


def send(client: Client, path: str, body: dict[str, Any], patience: int) -> bool:
    """Send until a 2xx answer (acknowledged) or patience runs out; 5xx, 429 and drops retry."""
    for _ in range(patience):
        try:
            response = client.post(path, json=body)
        except ClientDisconnected:  # the server closed the connection without an answer
            continue
        if 200 <= response.status_code < 300:
            return True
        assert response.status_code in (429, 500, 502, 503), response.get_data()
    return False


@given(
    rules=st.lists(RULES, max_size=4),
    calls=st.lists(CALL, min_size=1, max_size=8),
    patience=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_acknowledged_calls_land_exactly_once_and_in_order(
    rules: list[dict[str, Any]], calls: list[tuple[str, int]], patience: int, seed: int
) -> None:
    app = create_app(Settings(seed=seed))  # its own app: nothing carries between examples
    client = Client(dropping(app))
    for rule in rules:
        assert client.post("/_emulator/faults", json=rule).status_code == 201
    sent: list[str] = []
    acknowledged: list[str] = []
    for n, (kind, size) in enumerate(calls):
        ids = [f"c{n}.{i}" for i in range(size)]
        sent += ids
        if send(client, *request(kind, ids), patience):
            acknowledged += ids

    events = json.loads(client.get(f"/_emulator/merchants/{MERCHANT}/events").get_data())
    applied = [e["message_id"] for e in events["events"]]
    counts = Counter(applied)
    assert all(counts[i] == 1 for i in acknowledged), (acknowledged, applied)
    assert max(counts.values(), default=1) == 1, applied  # never twice
    assert applied == [i for i in sent if i in counts]  # in the order they were made
    # The journal shows a faulted entry for every hit the rules count.
    faults = json.loads(client.get("/_emulator/faults").get_data())["faults"]
    journal = json.loads(client.get("/_emulator/requests?outcome=faulted").get_data())
    assert len(journal["requests"]) == sum(f["hits"] for f in faults)
