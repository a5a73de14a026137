"""The emulator's wire contract: JSON Schemas loaded once, and validate()."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import fastjsonschema
import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).parent / "schemas"
BASE_URI = "https://wishpond-emulator.dev/schemas/"


class ContractError(ValueError):
    """A document that does not match its schema; the message names the field."""

    def __init__(self, name: str, error: ValidationError) -> None:
        self.name = name
        self.error = error
        self.path = "/".join(str(p) for p in error.absolute_path)
        self.field = _field(error)
        super().__init__(_describe(error, self.field))


def _field(error: ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    if error.validator == "additionalProperties" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(parts) or "(body)"


def _describe(error: ValidationError, field: str) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("description")
    if error.validator == "required":
        return f"{field} is required."
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(schema.get("properties", {})))
        return f"{field} is not a known field; the known fields are {known}."
    if error.validator in ("anyOf", "oneOf") and hint:
        return f"{hint}"
    # The message quotes the bad value: keep it short, whatever was sent.
    said = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    text = f"{field}: {said}"
    return f"{text}. {hint}" if hint else f"{text}."


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Return every schema by its short name (the file stem)."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SCHEMA_DIR.glob("*.json"))
    }


def enum(name: str) -> tuple[str, ...]:
    """Return the values of a shared enum, defined once in common.json's $defs."""
    return tuple(schemas()["common"]["$defs"][name]["enum"])


@cache
def registry() -> Registry:
    """Return the registry holding every schema under its $id."""
    return Registry().with_resources(
        (body["$id"], Resource.from_contents(body)) for body in schemas().values()
    )


@cache
def validator(name: str) -> Draft202012Validator:
    """Return the compiled validator for a schema, built once."""
    return Draft202012Validator(schemas()[name], registry=registry())


# Keywords whose values are data, not subschemas.
_DATA_KEYWORDS = frozenset(("const", "enum", "default", "examples"))


def _inline(node: Any, base: str, seen: tuple[str, ...] = ()) -> Any:
    """Return node with every $ref replaced by the subschema it points to."""
    if isinstance(node, list):
        return [_inline(item, base, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$id"), str):
        base = urljoin(base, node["$id"])
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            target = urljoin(base, value)
            if target in seen:  # recursive: leave an absolute $ref for the registry
                out[key] = target
                continue
            resolved = registry().resolver(base).lookup(value)
            sub = _inline(resolved.contents, target.partition("#")[0], (*seen, target))
            if isinstance(sub, dict):
                sub = {k: v for k, v in sub.items() if k not in ("$id", "$schema", "$defs")}
            if len(node) == 1:
                return sub
            out.setdefault("allOf", []).append(sub)
        elif key in _DATA_KEYWORDS:
            out[key] = value
        else:
            out[key] = _inline(value, base, seen)
    return out


@cache
def _inlined(name: str) -> Draft202012Validator:
    """Return a validator over the schema with its $refs inlined.

    Resolving a $ref through the registry costs more than the checks themselves.
    """
    body = schemas()[name]
    return Draft202012Validator(_inline(body, body["$id"]), registry=registry())


def _refuse(uri: str) -> Any:
    raise ValueError(f"no remote $ref: {uri}")


def _plain(name: str) -> dict[str, Any]:
    """Return the schema with its $refs inlined, without its $schema and $id."""
    body = dict(_inline(schemas()[name], schemas()[name]["$id"]))
    body.pop("$schema", None)
    body.pop("$id", None)
    return body


@cache
def accepts(name: str) -> Callable[[Any], bool]:
    """Return a fast test that says True only for documents valid against schema name.

    The inlined schema is compiled once by jsonschema-rs, where its patterns are portable, and
    to Python (fastjsonschema, draft-07 semantics for the keywords these schemas use). Both are
    trusted only to accept: whatever they reject is judged again by the full validator, which
    also writes the error message.
    """
    body = _plain(name)
    if "$ref" in json.dumps(body):  # a recursive schema: keep to jsonschema
        return _inlined(name).is_valid
    compiled = fastjsonschema.compile(
        body, handlers={"http": _refuse, "https": _refuse}, use_default=False
    )
    rs = _rs_check(body)

    def check(obj: Any) -> bool:
        if rs is not None and rs(obj):  # compiled code first: a whole state in one call
            return True
        try:
            compiled(obj)
        except Exception:  # any doubt goes to the full validator
            return False
        return True

    return check


# A regex Python and jsonschema-rs read alike, or where jsonschema-rs reads less: ASCII text,
# classes, groups and negative lookaheads (any other `(?` is refused), counted quantifiers
# (Python reads `x{,3}` as one, ECMA as text), and the escapes `\.` and `\n`. Class escapes
# (`\d`, `\s`, `\w`), other escapes and flags differ between the dialects. Python's `$` also
# matches before a final newline: there jsonschema accepts more, never less.
_PORTABLE = re.compile(
    r"(?:[A-Za-z0-9 _,~^$*+?|()\[\].!#%&'`\"/:;<=>@-]|\\[.n]|\{[0-9]+(?:,[0-9]+)?\})*"
)


def portable_pattern(pattern: Any) -> bool:
    """Return whether jsonschema-rs never accepts a string this regex refuses in Python."""
    if not isinstance(pattern, str) or _PORTABLE.fullmatch(pattern) is None:
        return False
    return "(?" not in pattern.replace("(?!", "")


def patterns(node: Any) -> list[Any]:
    """Return every pattern and patternProperties key anywhere in a schema."""
    if isinstance(node, list):
        return [p for item in node for p in patterns(item)]
    if not isinstance(node, dict):
        return []
    found = [node["pattern"]] if "pattern" in node else []
    found += list(node.get("patternProperties") or {})
    return found + [p for key, sub in node.items() if key != "pattern" for p in patterns(sub)]


def _rs_check(body: dict[str, Any]) -> Callable[[Any], bool] | None:
    """Return jsonschema-rs's test of an inlined schema (draft 2020-12), or None in doubt."""
    text = json.dumps(body)
    if any(word in text for word in _RS_UNSURE) or not all(
        portable_pattern(p) for p in patterns(body)
    ):
        return None
    compiled = jsonschema_rs.Draft202012Validator(body)

    def check(obj: Any) -> bool:
        try:
            return bool(compiled.is_valid(obj))
        except Exception:  # a value it cannot read (a lone surrogate): the others decide
            return False

    return check


# Keywords whose meaning could differ between jsonschema and jsonschema-rs (format checks,
# references): a schema naming any of them, or a pattern that is not portable, is checked
# item by item with accepts().
_RS_UNSURE = ('"$ref"', '"format"')


@cache
def accepts_all(name: str) -> Callable[[Sequence[Any]], bool]:
    """Return a fast test that says True only when every item is valid against schema name.

    One call checks the whole list, in compiled code (jsonschema-rs, draft 2020-12), instead
    of one call per item; like accepts(), it is trusted only to accept.
    """
    whole = _rs_check({"type": "array", "items": _plain(name)})
    if whole is None:
        one = accepts(name)
        return lambda items: all(one(item) for item in items)
    return lambda items: whole(items if type(items) is list else list(items))


def validate(name: str, obj: Any) -> None:
    """Raise ContractError naming the field if obj does not match schema name."""
    if accepts(name)(obj):
        return
    error = best_match(validator(name).iter_errors(obj))
    if error is not None:
        raise ContractError(name, error)
