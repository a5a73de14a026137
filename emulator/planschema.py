"""One tracking-plan rule's JSON Schema: checked, compiled once, and its errors as violations.

A rule is validated by jsonschema with the draft its `$schema` names (2020-12 when it names
none), with emulator.planfast's formats; where planfast compiled a fast check, jsonschema only
judges (and explains) what that check does not accept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from emulator.calls import JSON
from emulator.planfast import FORMATS, compile_fast, compile_rs

Violation = JSON
NO_VIOLATIONS: tuple[Violation, ...] = ()
MAX_MESSAGE = 200


def validator_class(schema: Any) -> type[Validator] | None:
    """Return the validator of the draft a schema's `$schema` names, or None for an unknown one."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return Draft202012Validator
    return validator_for(schema, default=None)  # type: ignore[arg-type]


def schema_problem(schema: Any) -> tuple[str, str] | None:
    """Return (field, problem) of a schema that is not a valid JSON Schema, or None."""
    if not isinstance(schema, (dict, bool)):
        return "", f"must be a JSON Schema object, not a JSON {_json_type(schema)}"
    cls = validator_class(schema)
    if cls is None:
        assert isinstance(schema, dict)
        return "$schema", (
            f"{str(schema['$schema'])[:100]!r} names no JSON Schema draft the emulator knows; "
            "use draft-04, -06, -07, 2019-09 or 2020-12 (or leave $schema out for 2020-12)"
        )
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]  # booleans are schemas too
    except SchemaError as exc:
        return ".".join(str(p) for p in exc.path), _clip(exc.message)
    return _ref_problem(schema, schema, [])


def _ref_problem(node: Any, root: Any, path: list[str]) -> tuple[str, str] | None:
    """Find a `$ref` that cannot resolve within the rule: remote, or a missing pointer."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            found = _ref_problem(item, root, [*path, str(i)])
            if found:
                return found
        return None
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        if key in ("enum", "const", "default", "examples"):
            continue
        if key in ("$ref", "$dynamicRef", "$recursiveRef") and isinstance(value, str):
            if not _resolves(value, root):
                return ".".join([*path, key]), (
                    f"{value[:100]!r} does not resolve inside the rule; the emulator fetches "
                    "nothing, so use a local pointer such as '#/definitions/name'"
                )
        elif key == "$id" and path:
            return ".".join([*path, key]), "an $id inside a rule's schema is not supported"
        else:
            found = _ref_problem(value, root, [*path, key])
            if found:
                return found
    return None


def _resolves(ref: str, root: Any) -> bool:
    """Return whether a `$ref` is the root or a JSON pointer to a node of the rule's schema."""
    if ref == "#":
        return True
    if not ref.startswith("#/"):
        return False
    node = root
    for part in ref[2:].split("/"):
        part = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)), part)
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _json_type(value: Any) -> str:
    names = {str: "string", bool: "boolean", int: "number", float: "number", list: "array"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


# jsonschema's keywords, by the kind of violation they report.
_KINDS = {
    "required": "missing_property",
    "dependentRequired": "missing_property",
    "type": "wrong_type",
    "additionalProperties": "unplanned_property",
    "unevaluatedProperties": "unplanned_property",
    "enum": "wrong_value",
    "const": "wrong_value",
    "pattern": "wrong_format",
    "format": "wrong_format",
    **dict.fromkeys(
        (
            "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
            "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
            "minContains", "maxContains",
        ),
        "out_of_range",
    ),
}  # fmt: skip
OTHER = "schema_mismatch"


def _field(path: Any, *more: str) -> str:
    return ".".join([*(str(p) for p in path), *more]) or "(message)"


def _quoted(message: str) -> list[str]:
    """Return the names jsonschema quoted in a message such as "('a', 'b' were unexpected)"."""
    return [a or b for a, b in re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", message)]


def _missing(error: ValidationError) -> list[str]:
    """Return the property a required or dependency error says is missing."""
    value = error.validator_value
    if isinstance(value, dict):  # dependencies / dependentRequired: {property: [needed]}
        value = [n for needed in value.values() if isinstance(needed, list) for n in needed]
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [
        n
        for n in (value if isinstance(value, list) else [])
        if isinstance(n, str) and n not in instance and error.message.startswith(repr(n) + " is a")
    ][:1]


def _violations(error: ValidationError) -> Iterator[Violation]:
    """Yield the violations one jsonschema error stands for (at least one)."""
    keyword = str(error.validator)
    kind = _KINDS.get(keyword, OTHER)
    instance = error.instance
    names: list[str] = []
    if keyword in ("required", "dependentRequired", "dependencies"):
        names = _missing(error)
        kind = "missing_property" if names else OTHER
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
        names = [
            k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)
        ]
    elif keyword == "unevaluatedProperties" and isinstance(instance, dict):
        names = [n for n in _quoted(error.message.partition("(")[2]) if n in instance]
    elif keyword in ("anyOf", "oneOf") and error.context:
        inner = best_match(error.context)
        if inner is not None and not list(inner.relative_path):
            kind = _KINDS.get(str(inner.validator), OTHER)
    path = list(error.absolute_path)
    message = _clip(error.message)
    for field in [_field(path, name) for name in names] or [_field(path)]:
        yield {"kind": kind, "field": field, "message": message}


_UNCOMPILED: Any = object()


class RuleSchema:
    """A rule's schema, compiled once: violations of a document, fast when it conforms.

    The fast check is compiled when the rule is first used (a few ms each), so that a plan of
    hundreds of events loads in a moment and a test run pays only for the events it sends.
    """

    def __init__(self, schema: Any) -> None:
        cls = validator_class(schema) or Draft202012Validator
        self.schema = schema
        self.validator = cls(schema, format_checker=FORMATS)
        self._compiled: Callable[[Any], Any] | None = _UNCOMPILED
        self._rs: Callable[[Any], bool] | None = _UNCOMPILED

    def _fast(self) -> Callable[[Any], Any] | None:
        compiled = self._compiled
        if compiled is _UNCOMPILED:
            # Two threads may both compile it the first time; either result is the same.
            self._rs = compile_rs(self.schema)
            compiled = self._compiled = compile_fast(self.schema)
        return compiled

    @property
    def accepts(self) -> Callable[[Any], bool] | None:
        """Return the compiled checks (True only for valid documents), or None without one."""
        compiled = self._fast()
        if compiled is None:
            return None
        rs = self._rs

        def accepts(document: Any) -> bool:
            if rs is not None and rs(document):
                return True
            try:
                compiled(document)
            except Exception:  # any doubt goes to jsonschema
                return False
            return True

        return accepts

    def violations(self, document: Any) -> tuple[Violation, ...]:
        """Return the document's violations of this schema, () when it conforms."""
        compiled = self._compiled
        if compiled is _UNCOMPILED:
            compiled = self._fast()
        rs = self._rs
        if rs is not None and rs(document):
            return NO_VIOLATIONS
        if compiled is not None:
            try:
                compiled(document)
                return NO_VIOLATIONS
            except Exception:  # rejected, or in doubt: jsonschema decides and explains
                pass
        try:
            errors = list(self.validator.iter_errors(document))
        except Exception as exc:  # a schema check_schema passed but that cannot be applied
            return (
                {
                    "kind": OTHER,
                    "field": "(message)",
                    "message": _clip(f"the rule's schema could not be applied: {exc}"),
                },
            )
        out: list[Violation] = []
        for error in errors:
            for found in _violations(error):
                if found not in out:
                    out.append(found)
        return tuple(out)
