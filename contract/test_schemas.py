"""The schemas themselves: valid draft 2020-12, with $id, and every $ref resolves."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

import contract


@pytest.mark.parametrize("name", sorted(contract.schemas()))
def test_schema_is_valid_2020_12_with_id(name: str) -> None:
    body = contract.schemas()[name]
    Draft202012Validator.check_schema(body)
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["$id"] == f"{contract.BASE_URI}{name}.json"


@pytest.mark.parametrize("name", sorted(contract.schemas()))
def test_every_ref_resolves(name: str) -> None:
    resolver = contract.registry().resolver(base_uri=contract.schemas()[name]["$id"])

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                resolver.lookup(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(contract.schemas()[name])


def test_validate_names_the_field() -> None:
    with pytest.raises(contract.ContractError) as err:
        contract.validate(
            "tracker-track", {"merchant_id": "m", "write_key": "k", "anonymous_id": "a", "event": 1}
        )
    assert err.value.field == "event"
    assert "event" in str(err.value)
