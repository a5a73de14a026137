"""A merchant per test: ids, resets that touch nothing else, and parallel workers on one server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

import emulator.server  # noqa: F401  (imported before pytester's inner runs, as in test_testing)
from emulator import create_app
from emulator.isolation import MAX_ID, merchant_id_for
from emulator.settings import ID_PATTERN
from emulator.testing import EmulatorClient
from tests.conftest import LEAN_PLUGINS as LEAN

pytest_plugins = ["pytester"]
create_app()

VALID = re.compile(ID_PATTERN)
RUNS = 5
TESTS = 40
ROUNDS = 5

# The sample suite: every test writes to its own merchant through the tracker or Segment, and
# checks exact counts after each write while the other workers reset their own merchants.
SAMPLE_CONFTEST = """
import json, os, time, uuid
from pathlib import Path

import pytest
import requests

def send(merchant, n, kind, **fields):
    lead = f"lead-{n}"
    if n % 2:
        body = {"merchant_id": merchant.id, "write_key": merchant.write_key,
                "anonymous_id": f"visitor-{n}", **fields}
        answer = requests.post(f"{merchant.url}/tracker/v1/{kind}", json=body, timeout=10)
    else:
        if kind == "identify":
            body = {"userId": lead, "traits": fields["attributes"]}
        else:
            body = {"userId": lead, "event": fields["event"], "properties": fields["properties"]}
        answer = requests.post(f"{merchant.url}/v1/{kind}", json=body,
                               auth=(merchant.write_key, ""), timeout=10)
    assert answer.status_code == 200, answer.text

@pytest.fixture
def record(wishpond_merchant, request):
    started = time.time()
    yield
    seen = Path(os.environ["ISOLATION_SEEN"])
    entry = {"id": wishpond_merchant.id, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
             "node": request.node.nodeid, "start": started, "end": time.time()}
    (seen / f"{uuid.uuid4().hex}.json").write_text(json.dumps(entry))
"""

SAMPLE_TESTS = f"""
import pytest
from conftest import send

ROUNDS = {ROUNDS}

@pytest.mark.parametrize("n", range({TESTS}))
def test_own_merchant(wishpond_merchant, record, n):
    merchant = wishpond_merchant
    assert merchant.leads() == [] and merchant.events() == []
    lead = f"lead-{{n}}"
    send(merchant, n, "identify", id=lead, attributes={{"n": n}})
    for i in range(ROUNDS):
        send(merchant, n, "track", id=lead, event="Step", properties={{"i": i}})
        # Exact: a reset from another test, or a merchant shared with one, would break it.
        assert len(merchant.events()) == i + 2
    merchant.assert_lead(lead, n=n)
    merchant.assert_event(lead, "Step", i=ROUNDS - 1)
    steps = merchant.wait_for_events(count=ROUNDS, event="Step", lead_id=lead)
    assert [e["properties"]["i"] for e in steps] == list(range(ROUNDS))
"""


def tracker(url: str, kind: str, merchant: str, **body: Any) -> requests.Response:
    """Send one tracker call for a merchant."""
    body = {"merchant_id": merchant, "write_key": "k", "anonymous_id": "v1", **body}
    return requests.post(f"{url}/tracker/v1/{kind}", json=body, timeout=10)


@pytest.fixture(autouse=True)
def no_outer_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a WISHPOND_EMULATOR_* setting of the outer shell out of the inner test runs."""
    for name in ("WISHPOND_EMULATOR_URL", "WISHPOND_EMULATOR_ADMIN_TOKEN", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)


# -- the ids ---------------------------------------------------------------------------------


@given(st.text(max_size=400), st.one_of(st.none(), st.text(max_size=40)))
def test_merchant_ids_are_valid_and_stable(nodeid: str, worker: str | None) -> None:
    merchant_id = merchant_id_for(nodeid, worker)
    assert VALID.match(merchant_id) and len(merchant_id) <= MAX_ID, merchant_id
    assert merchant_id_for(nodeid, worker) == merchant_id


def test_merchant_ids_differ_per_node_and_worker_and_stay_readable() -> None:
    long = "tests/test_shop.py::test_checkout[" + "very long parameter/" * 20 + "]"
    nodes = ["tests/a.py::test_x", "tests/b.py::test_x", "tests/a.py::test_x[1]", long]
    ids = {merchant_id_for(node, worker) for node in nodes for worker in (None, "gw0", "gw1")}
    assert len(ids) == len(nodes) * 3
    assert merchant_id_for("tests/a.py::test_x", "gw3").startswith("gw3.test_x-")
    assert merchant_id_for(long).startswith("test_checkout-very-long-parameter-")
    assert len(merchant_id_for(long, "gw12")) == MAX_ID


# -- parallel workers against one served emulator ---------------------------------------------


def test_forty_tests_on_four_workers_share_one_server_five_times(
    pytester: pytest.Pytester, serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served = serve()
    assert tracker(served.url, "identify", "witness", id="w1", attributes={}).status_code == 200
    pytester.makeconftest(SAMPLE_CONFTEST)
    pytester.makepyfile(test_sample=SAMPLE_TESTS)
    overlapped = 0
    for run in range(RUNS):
        seen = tmp_path / f"run-{run}"
        seen.mkdir()
        monkeypatch.setenv("ISOLATION_SEEN", str(seen))
        result = pytester.runpytest("-n", "4", "--wishpond-url", served.url, *LEAN)
        result.assert_outcomes(passed=TESTS)
        entries = [json.loads(p.read_text()) for p in seen.iterdir()]
        assert len({e["id"] for e in entries}) == TESTS, "two tests shared a merchant"
        assert {e["worker"] for e in entries} == {"gw0", "gw1", "gw2", "gw3"}
        # Count the tests that began (resetting their merchant) while another worker's test ran.
        overlapped += sum(
            any(o["worker"] != e["worker"] and o["start"] < e["start"] < o["end"] for o in entries)
            for e in entries
        )
    assert overlapped, "no test ever ran while another worker's test was running"
    witness = EmulatorClient(served.url).merchant("witness")
    assert [e["lead_id"] for e in witness.events()] == ["w1"]


# -- one test against a shared server: what is reset, and what is not ------------------------

SHARED_TEST = """
import requests

def test_it(wishpond_emulator, wishpond_merchant):
    merchant = wishpond_merchant
    assert merchant.id == {merchant_id!r} and merchant.write_key == merchant.id
    assert merchant.url == wishpond_emulator.url
    # Reset before the test: the data and the journal entries a previous run left are gone.
    assert merchant.leads() == [] and merchant.events() == []
    assert wishpond_emulator.requests(merchant_id=merchant.id)["requests"] == []
    # Nothing else was reset: not by wishpond_emulator, not by wishpond_merchant.
    assert [m["id"] for m in wishpond_emulator.merchants()] == ["other"]
    answer = requests.post(merchant.url + "/v1/identify", auth=(merchant.write_key, ""),
                           json={{"userId": "u1", "traits": {{"plan": "Pro"}}}}, timeout=10)
    assert answer.status_code == 200, answer.text
    merchant.assert_lead("u1", plan="Pro")
"""


def test_against_a_shared_server_a_test_resets_only_its_own_merchant(
    pytester: pytest.Pytester, serve: Any
) -> None:
    served = serve()
    own = merchant_id_for("test_shared.py::test_it")
    for merchant in (own, "other"):
        assert tracker(served.url, "identify", merchant, id="old", attributes={}).ok
    assert tracker(served.url, "track", own, event="").status_code == 400  # journaled
    pytester.makepyfile(test_shared=SHARED_TEST.format(merchant_id=own))
    pytester.runpytest("--wishpond-url", served.url, *LEAN).assert_outcomes(passed=1)

    client = EmulatorClient(served.url)
    assert [lead["id"] for lead in client.merchant("other").leads()] == ["old"]
    # The test's merchant keeps what the test wrote, for a look afterwards.
    assert [lead["id"] for lead in client.merchant(own).leads()] == ["u1"]


def test_a_strict_server_refuses_per_test_merchants_with_what_to_do(
    pytester: pytest.Pytester, serve: Any
) -> None:
    served = serve("--merchant", "acme-shop:test-key")
    pytester.makepyfile("def test_it(wishpond_merchant):\n    pass\n")
    result = pytester.runpytest("--wishpond-url", served.url, *LEAN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*wishpond_merchant needs an emulator in open mode*strict mode (configured "
            "merchants: 'acme-shop')*401 unknown_merchant*WISHPOND_EMULATOR_MERCHANTS*"
            "wishpond_emulator.merchant(ID)*"
        ]
    )


# -- in-process: the view, its near-misses and a scoped load ---------------------------------


def test_in_process_merchant_view_near_misses_and_load(pytester: pytest.Pytester) -> None:
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "demo.json"
    pytester.makepyfile(
        f"""
        import pytest

        def test_load_one_merchant_of_a_state_file(wishpond_merchant, wishpond_emulator):
            wishpond_emulator.load({{"merchants": {{"bystander": {{"leads": [{{"id": "b"}}]}}}}}})
            wishpond_merchant.load({str(demo)!r}, merchant="acme-shop")
            assert {{l["id"] for l in wishpond_merchant.leads()}} == {{"1e810c197e", "7f3a9c2b10"}}
            wishpond_merchant.load({{"leads": [{{"id": "vip", "attributes": {{"tier": "gold"}}}}]}})
            gold = wishpond_merchant.leads(attributes={{"tier": "gold"}})
            assert [l["id"] for l in gold] == ["vip"]
            assert [l["id"] for l in wishpond_emulator.merchant("bystander").leads()] == ["b"]
            with pytest.raises(ValueError, match="holds 2 merchants.*name one with merchant="):
                wishpond_merchant.load({str(demo)!r})

        def test_near_miss(wishpond_merchant):
            wishpond_merchant.load({{"leads": [{{"id": "user-17"}}]}})
            wishpond_merchant.assert_lead("user-7")
        """
    )
    result = pytester.runpytest("--wishpond-timeout", "0.2", *LEAN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*merchant 'test_near_miss-*' has no lead 'user-7'*", "*lead 'user-17' has a similar id*"]
    )
