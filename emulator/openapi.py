"""Build the OpenAPI 3.1 document from the contract schemas and a table of routes."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import contract
from emulator.http.dashboard import ASSETS

JSON = dict[str, Any]
_REF = re.compile(r"^([a-z0-9-]+)\.json(#.*)?$")


@dataclass(frozen=True)
class Param:
    """One query or path parameter."""

    name: str
    schema: JSON
    description: str
    where: str = "query"
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One operation: its request, success response and the errors it can answer."""

    method: str
    path: str
    summary: str
    tag: str
    response: str | None
    request: str | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    content_types: tuple[str, ...] = ("application/json",)
    response_type: str = "application/json"  # or comma-separated media types of text
    security: bool = False
    segment: bool = False  # authenticated by the Segment write key (HTTP Basic user name)
    extra: JSON = field(default_factory=dict)


MERCHANT = Param(
    "merchant_id",
    {"$ref": "#/components/schemas/common/$defs/merchant_id"},
    "The merchant's id.",
    "path",
    True,
)
LEAD = Param("lead_id", {"type": "string", "minLength": 1}, "The lead's id.", "path", True)
INGEST_ERRORS = (400, 401, 413, 415, 507)
ADMIN_ERRORS = (400, 401)

ROUTES: list[Route] = []


def route(*args: Any, **kwargs: Any) -> None:
    """Add an operation to the document."""
    ROUTES.append(Route(*args, **kwargs))


for call, response in (
    ("identify", "identify-response"),
    ("track", "track-response"),
    ("page", "track-response"),
):
    route(
        "post",
        f"/tracker/v1/{call}",
        f"Tracker {call}",
        "tracker",
        response,
        request=f"tracker-{call}",
        errors=INGEST_ERRORS,
        content_types=("application/json", "text/plain"),
    )
route(
    "get",
    "/_emulator/health",
    "Readiness and version",
    "admin",
    "health",
    security=True,
    errors=ADMIN_ERRORS,
)
route(
    "get",
    "/_emulator/merchants",
    "Merchants with counts",
    "admin",
    "merchants",
    security=True,
    errors=ADMIN_ERRORS,
)
route(
    "get",
    "/_emulator/merchants/{merchant_id}/leads",
    "A merchant's leads",
    "admin",
    "leads",
    security=True,
    errors=ADMIN_ERRORS,
    params=(
        MERCHANT,
        Param("email", {"type": "string"}, "Only leads with this email (case-insensitive)."),
    ),
    extra={"x-filters": "attribute.<name>=<value> and audience.<key>=true|false also filter."},
)
route(
    "get",
    "/_emulator/merchants/{merchant_id}/leads/{lead_id}",
    "One lead with its events and audience history",
    "admin",
    "lead-detail",
    security=True,
    errors=(*ADMIN_ERRORS, 404),
    params=(MERCHANT, LEAD),
)
route(
    "get",
    "/_emulator/merchants/{merchant_id}/events",
    "A merchant's events",
    "admin",
    "events",
    security=True,
    errors=ADMIN_ERRORS,
    params=(
        MERCHANT,
        Param("lead_id", {"type": "string"}, "Only events of this lead."),
        Param("type", {"enum": ["identify", "track", "page"]}, "Only events of this type."),
        Param("event", {"type": "string"}, "Only track events with this title."),
        Param("after_seq", {"type": "integer", "minimum": 0}, "Only events after this seq."),
        Param(
            "wait",
            {"type": "number", "minimum": 0, "maximum": "MAX_WAIT"},
            "Long-poll: wait up to this many seconds for min_count matches.",
        ),
        Param(
            "min_count",
            {"type": "integer", "minimum": 0},
            "Long-poll: return once this many events match (default 1).",
        ),
    ),
)
route(
    "delete",
    "/_emulator/merchants/{merchant_id}",
    "Reset one merchant",
    "admin",
    "reset",
    security=True,
    errors=ADMIN_ERRORS,
    params=(MERCHANT,),
)
route(
    "post",
    "/_emulator/reset",
    "Reset every merchant and the journal",
    "admin",
    "reset",
    security=True,
    errors=ADMIN_ERRORS,
)
route(
    "get",
    "/_emulator/state",
    "Export the whole state",
    "admin",
    "state",
    security=True,
    errors=ADMIN_ERRORS,
)
route(
    "put",
    "/_emulator/state",
    "Import a state document",
    "admin",
    "merchants",
    request="state",
    security=True,
    errors=(*ADMIN_ERRORS, 413, 415, 507),
    params=(
        Param(
            "mode",
            {"enum": ["replace", "merge"]},
            "replace (default) forgets everything first; merge replaces only the named merchants.",
        ),
    ),
)
route(
    "get",
    "/_emulator/requests",
    "The request journal",
    "admin",
    "journal",
    security=True,
    errors=ADMIN_ERRORS,
    params=(
        Param("surface", {"enum": ["tracker", "segment", "engage"]}, "Only this surface."),
        Param("merchant_id", {"type": "string"}, "Only calls for this merchant."),
        Param("outcome", {"enum": ["accepted", "rejected", "skipped"]}, "Only this outcome."),
        Param("after_id", {"type": "integer", "minimum": 0}, "Only entries after this id."),
    ),
)
for kind in ("identify", "track", "page", "screen", "group", "alias"):
    route(
        "post",
        f"/v1/{kind}",
        f"Segment {kind}",
        "segment",
        "segment-response",
        request=f"segment-{kind}",
        errors=INGEST_ERRORS,
        segment=True,
        content_types=("application/json", "text/plain"),
    )
for path in ("/v1/batch", "/v1/import"):
    route(
        "post",
        path,
        "Segment batch: every message applied, or none",
        "segment",
        "segment-response",
        request="segment-batch",
        errors=INGEST_ERRORS,
        segment=True,
        content_types=("application/json", "text/plain"),
    )
AUDIENCE_ERRORS = (*ADMIN_ERRORS, 404, 413, 415, 507)
route(
    "put",
    "/_emulator/merchants/{merchant_id}/audiences/{key}",
    "Sync an Engage audience's members",
    "engage",
    "engage-sync-response",
    request="engage-sync",
    security=True,
    errors=AUDIENCE_ERRORS,
    params=(
        MERCHANT,
        Param(
            "key",
            {"$ref": "#/components/schemas/engage-audience-key"},
            "The audience key (the trait name).",
            "path",
            True,
        ),
    ),
)
route(
    "post",
    "/_emulator/merchants/{merchant_id}/audiences",
    "Sync an Engage audience keyed by its snake_cased name",
    "engage",
    "engage-sync-response",
    request="engage-create",
    security=True,
    errors=AUDIENCE_ERRORS,
    params=(MERCHANT,),
)
route(
    "get",
    "/connect.js",
    "The browser tracker script",
    "tracker",
    None,
    response_type="text/javascript",
)
route("get", "/", "The live dashboard", "dashboard", None, response_type="text/html")
route(
    "get",
    "/_dashboard/{name}",
    "A dashboard asset",
    "dashboard",
    None,
    response_type=",".join(sorted({mimetype.split(";")[0] for mimetype in ASSETS.values()})),
    params=(Param("name", {"enum": sorted(ASSETS)}, "The asset.", "path", True),),
)
route("get", "/openapi.json", "This document", "meta", None, response_type="application/json")


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


def _operation(r: Route, max_wait: float) -> JSON:
    op: JSON = {
        "operationId": f"{r.method}_{r.path}".replace("/", "_").strip("_"),
        "summary": r.summary,
        "tags": [r.tag],
    }
    params = []
    for p in r.params:
        schema = {k: (max_wait if v == "MAX_WAIT" else v) for k, v in p.schema.items()}
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
    if r.request:
        op["requestBody"] = {
            "required": True,
            "content": {ct: {"schema": _ref(r.request)} for ct in r.content_types},
        }
    responses: JSON = {
        str(r.status): {
            "description": "Success",
            "content": _json(r.response)
            if r.response_type == "application/json"
            else {t: {"schema": {"type": "string"}} for t in r.response_type.split(",")},
        }
    }
    for status in (*r.errors, 404, 405):
        responses.setdefault(str(status), {"description": "Error", "content": _json("error")})
    op["responses"] = responses
    if r.security:
        op["security"] = [{}, {"adminToken": []}]
    if r.segment:
        op["security"] = [{"segmentWriteKey": []}, {}]
    op.update(r.extra)
    return op


def build(max_wait: float = 60.0) -> JSON:
    """Return the OpenAPI 3.1 document for every route."""
    from emulator import __version__

    paths: JSON = {}
    for r in ROUTES:
        paths.setdefault(r.path, {})[r.method] = _operation(r, max_wait)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wishpond-emulator",
            "version": __version__,
            "description": "A local, stateful emulator of Wishpond's marketing tracker. Every "
            'error is JSON: {"error": {"code", "message"}}.',
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": {
                name: _rewrite(copy.deepcopy(body), name)
                for name, body in contract.schemas().items()
            },
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Only when --admin-token is set.",
                },
                "segmentWriteKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The source write key as the user name (empty password), "
                    "or writeKey in the body.",
                },
            },
        },
    }
