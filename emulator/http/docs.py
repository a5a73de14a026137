"""OpenAPI facts, declared beside each route by the blueprint that serves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from emulator.calls import JSON

View = TypeVar("View", bound=Callable[..., Any])

ADMIN_TOKEN = "adminToken"
SEGMENT_WRITE_KEY = "segmentWriteKey"
# Filled in from the app's settings when the document is built.
MAX_WAIT = "MAX_WAIT"


@dataclass(frozen=True)
class Param:
    """One query or path parameter."""

    name: str
    schema: JSON
    description: str
    where: str = "query"
    required: bool = False


@dataclass(frozen=True)
class Doc:
    """One operation's facts: its request, success answer and the errors it can answer."""

    summary: str
    response: str | None = None
    request: str | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    content_types: tuple[str, ...] = ("application/json",)
    response_types: tuple[str, ...] = ("application/json",)
    security: str | None = None
    # The schema of the operation's 4xx answers, and headers its success may carry.
    error_schema: str = "error"
    success_headers: JSON = field(default_factory=dict)
    extra: JSON = field(default_factory=dict)
    # Query parameters named by a prefix, such as attribute.<name>.
    query_prefixes: tuple[str, ...] = ()

    def query_names(self) -> set[str]:
        """Return the query parameters the route declares."""
        return {p.name for p in self.params if p.where == "query"}


def merchant_param() -> Param:
    """Return the merchant_id path parameter every per-merchant route takes."""
    return Param(
        "merchant_id",
        {"$ref": "#/components/schemas/common/$defs/merchant_id"},
        "The merchant's id.",
        "path",
        True,
    )


def enum_param(name: str, enum: str, description: str, where: str = "query") -> Param:
    """Return a parameter whose values are one of the contract's shared enums."""
    return Param(
        name,
        {"$ref": f"#/components/schemas/common/$defs/{enum}"},
        description,
        where,
        where == "path",
    )


def documenter(**defaults: Any) -> Callable[..., Callable[[View], View]]:
    """Return a `documented` decorator whose facts start from one blueprint's defaults."""

    def documented(summary: str, **facts: Any) -> Callable[[View], View]:
        doc = replace(Doc(summary), **{**defaults, **facts})

        def attach(view: View) -> View:
            view.openapi = doc  # type: ignore[attr-defined]
            return view

        return attach

    return documented


def doc_of(view: Callable[..., Any]) -> Doc | None:
    """Return the facts a view was documented with, if any."""
    found = getattr(view, "openapi", None)
    return found if isinstance(found, Doc) else None
