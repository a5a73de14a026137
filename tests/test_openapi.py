"""GET /openapi.json: a valid OpenAPI 3.1 document covering every route, built from the schemas."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

import contract


def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_route_is_documented_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        served |= {(m, path) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert documented == served


def test_components_are_the_contract_schemas(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    assert set(doc["components"]["schemas"]) == set(contract.schemas())
    text = r"#/components/schemas/([a-z0-9-]+)"
    for name in re.findall(text, client.get("/openapi.json").get_data(as_text=True)):
        assert name in contract.schemas()


def test_every_operation_documents_its_errors_as_the_error_schema(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    for path, ops in doc["paths"].items():
        # Segment's surface adds code and message at the top level, for Segment's libraries.
        schema = "segment-error" if path.startswith("/v1/") else "error"
        for method, op in ops.items():
            errors = {s: r for s, r in op["responses"].items() if s.startswith("4")}
            assert "404" in errors and "405" in errors, (method, path)
            for status, response in errors.items():
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == f"#/components/schemas/{schema}", (method, path, status)


def test_segment_operations_document_the_dropped_header(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    for path in ("/v1/batch", "/v1/b", "/v1/track", "/v1/t"):
        success = doc["paths"][path]["post"]["responses"]["200"]
        assert "Wishpond-Emulator-Dropped" in success["headers"], path
        assert "text/plain" in doc["paths"][path]["post"]["requestBody"]["content"]


def test_segment_errors_match_the_documented_schema(client: FlaskClient) -> None:
    for path, body in (("/v1/t", b"{"), ("/v1/nope", b"{}"), ("/v1/batch", b'{"batch": 1}')):
        r = client.post(path, data=body, content_type="text/plain")
        assert r.status_code in (400, 401, 404), r.json
        contract.validate("segment-error", r.json)
        assert (r.json["code"], r.json["message"]) == (
            r.json["error"]["code"],
            r.json["error"]["message"],
        )
    r = client.get("/_emulator/merchants/m/leads/none")
    contract.validate("error", r.json)


def test_long_poll_bound_follows_the_setting() -> None:
    from emulator import create_app
    from emulator.settings import Settings

    doc = create_app(Settings(max_wait=2.5)).test_client().get("/openapi.json").json
    params = doc["paths"]["/_emulator/merchants/{merchant_id}/events"]["get"]["parameters"]
    wait = next(p for p in params if p["name"] == "wait")
    assert wait["schema"]["maximum"] == 2.5


def test_every_ref_resolves_inside_the_document(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    refs = set(re.findall(r'"\$ref":\s*"([^"]+)"', client.get("/openapi.json").get_data(True)))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(node, dict), ref


def _path_enums(doc: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    out = []
    for path, ops in doc["paths"].items():
        for p in ops.get("get", {}).get("parameters", []):
            if p["in"] == "path" and "enum" in p["schema"]:
                out.append((path, p["name"], p["schema"]["enum"]))
    return out


def test_path_parameter_enums_are_exactly_what_the_route_serves(client: FlaskClient) -> None:
    enums = _path_enums(client.get("/openapi.json").json)
    assert enums
    for path, name, values in enums:
        for value in values:
            assert client.get(path.replace("{" + name + "}", value)).status_code == 200, value
        assert client.get(path.replace("{" + name + "}", "not-" + values[0])).status_code == 404


def test_every_file_the_dashboard_loads_is_a_documented_asset(client: FlaskClient) -> None:
    (values,) = [
        v for p, _, v in _path_enums(client.get("/openapi.json").json) if "_dashboard" in p
    ]
    loaded = set(re.findall(r"/_dashboard/([\w.-]+)", client.get("/").get_data(as_text=True)))
    for name in list(loaded):
        if name.endswith(".js"):
            script = client.get(f"/_dashboard/{name}").get_data(as_text=True)
            loaded |= set(re.findall(r"""from\s+['"]\./([\w.-]+)['"]""", script))
    assert loaded and loaded <= set(values)


def test_every_route_declares_its_facts_beside_it(app: Flask) -> None:
    from emulator.http.docs import doc_of

    for rule in app.url_map.iter_rules():
        assert doc_of(app.view_functions[rule.endpoint]) is not None, rule.rule
