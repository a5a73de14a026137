"""The fast validators (inlined, compiled) accept only what the registry validators accept."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import contract
from emulator.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ODD_VALUES: tuple[Any, ...] = (
    None, 0, -1, 1, 1.0, 1.5, True, False, "", "x" * 300, "bad id!", "m1\n", "\u00e9" * 200,
    [], [1], {}, {"a": 1}, 2**70,
)  # fmt: skip


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _mutations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in doc:
        yield {k: v for k, v in doc.items() if k != key}
        for odd in ODD_VALUES:
            yield {**doc, key: odd}
    yield {**doc, "unknown_field": 1}


def _seeds() -> Iterator[Any]:
    yield from (json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json")))
    creds = {"merchant_id": "m1", "write_key": "k1", "anonymous_id": "a1"}
    yield {**creds, "id": "u1", "attributes": {"email": "u1@example.com"}}
    yield {**creds, "event": "Signed Up", "properties": {"plan": "Startup"}}
    yield {**creds, "properties": {"path": "/"}}
    store = Store()
    yield {"lead": store.identify("m1", "u1", {"email": "u1@example.com"}, "a1")}
    yield {"event": store.track("m1", "Signed Up", {"plan": "Startup"}, "a1")}
    yield store.lead("m1", "u1")
    yield {"leads": store.leads("m1"), "events": store.events("m1")}
    yield store.export()


def corpus() -> list[Any]:
    """Return fixtures, real bodies and documents, and near-misses of every object in them."""
    docs: list[Any] = []
    for seed in _seeds():
        for value in _walk(seed):
            if isinstance(value, dict):
                docs.append(value)
                docs.extend(_mutations(value))
    docs.extend(ODD_VALUES)
    unique = {json.dumps(d, sort_keys=True): d for d in docs}
    picked = list(unique.values())
    random.Random(7).shuffle(picked)
    return picked[:3000]


@pytest.mark.parametrize("name", sorted(contract.schemas()))
def test_inlined_schema_has_no_refs_left(name: str) -> None:
    text = json.dumps(contract._inlined(name).schema)
    assert '"$ref"' not in text, f"{name}: a $ref survived inlining"


def test_inlined_validators_agree_with_the_registry_validators() -> None:
    docs = corpus()
    both_outcomes = 0
    for name in sorted(contract.schemas()):
        fast, full = contract._inlined(name), contract.validator(name)
        outcomes = set()
        for doc in docs:
            expected = full.is_valid(doc)
            assert fast.is_valid(doc) is expected, f"{name} disagrees on {json.dumps(doc)[:300]}"
            outcomes.add(expected)
        both_outcomes += outcomes == {True, False}
    # The corpus must exercise acceptance and rejection, or agreement would prove little.
    assert both_outcomes >= 10


def test_compiled_check_accepts_only_valid_documents_and_most_of_them() -> None:
    docs = corpus()
    accepted = valid = 0
    for name in sorted(contract.schemas()):
        fast, full = contract.accepts(name), contract.validator(name)
        for doc in docs:
            expected = full.is_valid(doc)
            if fast(doc):
                assert expected, f"{name} accepts an invalid document: {json.dumps(doc)[:300]}"
                accepted += 1
            valid += expected
    # Rejections are judged again by the full validator; they must be rare among valid input.
    assert accepted >= 0.95 * valid


def test_validate_still_names_the_field_on_failure() -> None:
    with pytest.raises(contract.ContractError) as info:
        contract.validate(
            "tracker-track",
            {"merchant_id": "m1", "write_key": "k", "anonymous_id": "a", "event": ""},
        )
    assert info.value.field == "event"


SEGMENT_SEEDS: tuple[dict[str, Any], ...] = (
    {"type": "track", "userId": "u1", "event": "Signed Up", "properties": {"plan": "x"},
     "messageId": "m1", "timestamp": "2026-01-01T00:00:00.000Z", "context": {"ip": "1.2.3.4"}},
    {"type": "track", "anonymousId": 7, "event": "Audience Entered",
     "properties": {"audience_key": "vip"}},
    {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"},
     "integrations": {"All": False},
     "context": {"personas": {"computation_class": "audience", "computation_key": "vip"}}},
    {"type": "alias", "userId": "u2", "previousId": "u1"},
    {"type": "group", "anonymousId": "a1", "groupId": "g1", "sentAt": None},
    {"type": "page", "userId": "u1", "_metadata": {"bundled": ["Wishpond"]}},
)  # fmt: skip


def test_the_whole_list_check_accepts_only_lists_of_valid_documents() -> None:
    docs = [d for seed in SEGMENT_SEEDS for v in _walk(seed) if isinstance(v, dict)
            for d in (v, *_mutations(v))] + corpus()[:1000]  # fmt: skip
    rng = random.Random(11)
    lists = 0
    for name in sorted(n for n in contract.schemas() if n.startswith("segment-")):
        whole, full = contract.accepts_all(name), contract.validator(name)
        valid = [d for d in docs if full.is_valid(d)]
        invalid = [d for d in docs if not full.is_valid(d)]
        for doc in invalid:
            assert not whole([doc]), f"{name} accepts an invalid document: {json.dumps(doc)[:300]}"
        for _ in range(50):
            picked = rng.sample(valid, min(len(valid), 8))
            # A list of valid documents passes (or the fast path would never be taken) ...
            assert whole(picked), f"{name} refuses valid documents: {json.dumps(picked)[:300]}"
            if invalid:  # ... and one invalid document anywhere in it refuses the whole list.
                mixed = [*picked, rng.choice(invalid)]
                rng.shuffle(mixed)
                assert not whole(mixed), f"{name} accepts {json.dumps(mixed)[:300]}"
            lists += 1
    assert lists >= 300


def test_only_patterns_both_regex_dialects_read_alike_go_to_jsonschema_rs() -> None:
    for pattern in ("^[A-Za-z0-9_]{1,128}(?!\\n)$", "^(?!\\.{1,2}$)[a-z.]+$", "^(a|b)*c?$"):
        assert contract.portable_pattern(pattern), pattern
    for pattern in ("\\d", "\\s", "\\w", "x{,3}", "(?i)a", "(?=a)", "(?<!a)b", "\\ba", "é"):
        assert not contract.portable_pattern(pattern), pattern
    # The state's patterns are portable: a whole state (an import, a data file) is checked in
    # compiled code in one call.
    found = contract.patterns(contract._plain("state"))
    assert found and all(contract.portable_pattern(p) for p in found), found
