"""Assemble the OpenAPI 3.1 document from the app's routes and the facts declared beside them."""

from __future__ import annotations

import copy
import re
from typing import Any

import contract
from emulator.calls import JSON
from emulator.http.docs import ADMIN_TOKEN, MAX_WAIT, SEGMENT_WRITE_KEY, Doc, doc_of

_REF = re.compile(r"^([a-z0-9-]+)\.json(#.*)?$")
_ARG = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
# Every operation can answer these, whatever it declares.
ALWAYS = (404, 405)


def _rewrite(node: Any, name: str) -> Any:
    """Point $refs (to other files, or within schema name) at components; drop $id/$schema."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("$id", "$schema"):
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                out[key] = f"#/components/schemas/{name}{value[1:]}"
            elif key == "$ref" and isinstance(value, str) and (m := _REF.match(value)):
                out[key] = f"#/components/schemas/{m.group(1)}{(m.group(2) or '#')[1:]}"
            else:
                out[key] = _rewrite(value, name)
        return out
    if isinstance(node, list):
        return [_rewrite(v, name) for v in node]
    return node


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str | None) -> JSON:
    return {"application/json": {"schema": _ref(name) if name else {"type": "object"}}}


def _operation(method: str, path: str, tag: str, doc: Doc, max_wait: float) -> JSON:
    op: JSON = {
        "operationId": f"{method}_{path}".replace("/", "_").strip("_"),
        "summary": doc.summary,
        "tags": [tag],
    }
    params = []
    for p in doc.params:
        schema = {k: (max_wait if v == MAX_WAIT else v) for k, v in p.schema.items()}
        params.append(
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": schema,
            }
        )
    if params:
        op["parameters"] = params
    if doc.request:
        op["requestBody"] = {
            "required": True,
            "content": {ct: {"schema": _ref(doc.request)} for ct in doc.content_types},
        }
    success = (
        _json(doc.response)
        if doc.response_types == ("application/json",)
        else {t: {"schema": {"type": "string"}} for t in doc.response_types}
    )
    responses: JSON = {str(doc.status): {"description": "Success", "content": success}}
    if doc.success_headers:
        responses[str(doc.status)]["headers"] = doc.success_headers
    for status in (*doc.errors, *ALWAYS):
        responses.setdefault(
            str(status), {"description": "Error", "content": _json(doc.error_schema)}
        )
    op["responses"] = responses
    if doc.security == ADMIN_TOKEN:
        op["security"] = [{}, {ADMIN_TOKEN: []}]
    elif doc.security == SEGMENT_WRITE_KEY:
        op["security"] = [{SEGMENT_WRITE_KEY: []}, {}]
    op.update(doc.extra)
    return op


def paths(app: Any, max_wait: float) -> JSON:
    """Return the document's paths: one operation per route and method the app serves."""
    out: JSON = {}
    for rule in app.url_map.iter_rules():
        doc = doc_of(app.view_functions[rule.endpoint])
        if doc is None:
            raise LookupError(f"route {rule.rule} ({rule.endpoint}) declares no OpenAPI facts")
        path = _ARG.sub(r"{\1}", rule.rule)
        declared = {p.name for p in doc.params if p.where == "path"}
        if declared != set(rule.arguments):
            raise LookupError(f"route {rule.rule} documents path parameters {sorted(declared)}")
        tag = rule.endpoint.partition(".")[0]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.setdefault(path, {})[method.lower()] = _operation(
                method.lower(), path, tag, doc, max_wait
            )
    return out


def build(app: Any, max_wait: float = 60.0) -> JSON:
    """Return the OpenAPI 3.1 document for every route of app."""
    from emulator import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wishpond-emulator",
            "version": __version__,
            "description": "A local, stateful emulator of Wishpond's marketing tracker. Every "
            'error is JSON: {"error": {"code", "message"}}.',
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths(app, max_wait),
        "components": {
            "schemas": {
                name: _rewrite(copy.deepcopy(body), name)
                for name, body in contract.schemas().items()
            },
            "securitySchemes": {
                ADMIN_TOKEN: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Only when --admin-token is set.",
                },
                SEGMENT_WRITE_KEY: {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The source write key as the user name (empty password), "
                    "or writeKey in the body.",
                },
            },
        },
    }
