"""Every file under fixtures/ is valid: state files validate and load, the rest parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import contract
from emulator.testing import EmulatorClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FILES = sorted(FIXTURES.rglob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def is_state(document: Any) -> bool:
    return isinstance(document, dict) and "merchants" in document and "$schema" not in document


STATE_FILES = [p for p in FILES if is_state(load(p))]
OTHER_FILES = [p for p in FILES if p not in STATE_FILES]


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(FIXTURES)) for p in paths]


def test_the_demo_state_is_among_the_fixtures() -> None:
    assert FIXTURES / "demo.json" in STATE_FILES


@pytest.mark.parametrize("path", STATE_FILES, ids=ids(STATE_FILES))
def test_state_file_validates_and_round_trips(
    path: Path, wishpond_emulator: EmulatorClient
) -> None:
    document = load(path)
    contract.validate("state", document)
    wishpond_emulator.load(path)
    # What the emulator exports is what the file says: the file is self-consistent
    # (counts, links, audience history) rather than patched up on import.
    assert wishpond_emulator.state()["merchants"] == document["merchants"]
    counts = {m["id"]: m for m in wishpond_emulator.merchants()}
    for merchant_id, body in document["merchants"].items():
        assert counts[merchant_id]["lead_count"] == len(body.get("leads", []))
        assert counts[merchant_id]["event_count"] == len(body.get("events", []))


@pytest.mark.parametrize("path", OTHER_FILES, ids=ids(OTHER_FILES))
def test_other_fixture_parses_and_matches_the_schema_it_names(path: Path) -> None:
    document = load(path)
    assert isinstance(document, dict) and document.get("description")
    named = document.get("$schema")
    if isinstance(named, str) and named.startswith(contract.BASE_URI):
        contract.validate(named.removeprefix(contract.BASE_URI).removesuffix(".json"), document)


def test_segment_vectors_are_valid_segment_messages() -> None:
    vectors = load(FIXTURES / "segment-vectors.json")
    messages = [v["segment"] for group in ("reference", "extra") for v in vectors[group]]
    assert messages
    for message in messages:
        contract.validate("segment-message", message)


def test_engage_scenario_steps_are_valid_sync_requests() -> None:
    scenario = load(FIXTURES / "engage-scenario.json")
    contract.validate("engage-audience-key", scenario["key"])
    assert scenario["steps"]
    for step in scenario["steps"]:
        contract.validate("engage-sync", {"name": scenario["name"], "members": step["members"]})


def test_demo_loads_at_start_with_serve_import(serve: Any) -> None:
    served = serve("--import", str(FIXTURES / "demo.json"))
    acme = EmulatorClient(served.url).merchant("acme-shop")
    jane = acme.assert_lead("1e810c197e", email="jane.kim@example.com", trial_users=True)
    assert [e["seq"] for e in jane["events"]] == [1, 2, 3, 4, 5]
    assert [x["id"] for x in acme.leads(audiences={"power_users": True})] == ["7f3a9c2b10"]
    # The unidentified visitor's events stay unattributed until an identify links them.
    pending = [e for e in acme.events() if e["anonymous_id"] == "visitor-anon-9"]
    assert [(e["type"], e["lead_id"]) for e in pending] == [("page", None), ("track", None)]
    globex = EmulatorClient(served.url).merchant("globex-store")
    globex.assert_event("user-42", "Added to Cart", sku="GX-1", quantity=2)


def test_demo_visitor_is_linked_by_a_later_identify(wishpond_emulator: EmulatorClient) -> None:
    import requests

    wishpond_emulator.load(FIXTURES / "demo.json")
    body = {
        "merchant_id": "acme-shop",
        "write_key": "any",
        "anonymous_id": "visitor-anon-9",
        "id": "new-lead",
        "attributes": {"email": "new@example.com"},
    }
    answer = requests.post(f"{wishpond_emulator.url}/tracker/v1/identify", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    acme = wishpond_emulator.merchant("acme-shop")
    acme.assert_event("new-lead", "Viewed Pricing", plan="Pro")
