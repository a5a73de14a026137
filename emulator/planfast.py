"""What a plan's check compiles once: the formats it checks, and fast accept-only checks.

The formats are those every install checks alike (none needs an optional package). A schema
that uses only keywords whose meaning fastjsonschema shares with jsonschema is also compiled to
Python; that check is trusted only to accept, and whatever it rejects goes to jsonschema. Of
those, a schema whose patterns are portable (contract.portable_pattern: Python and
jsonschema-rs read them alike) is also compiled by jsonschema-rs, faster again, and trusted
the same.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema_rs
from jsonschema import FormatChecker

import contract

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII
)
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _RFC3339.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60


def _time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _TIME.fullmatch(value)
    return match is not None and int(match[1]) < 24 and int(match[2]) < 60 and int(match[3]) <= 60


def _format_checker() -> FormatChecker:
    """Return the formats every install checks alike: none depends on an optional package."""
    checker = FormatChecker(formats=())
    builtin = FormatChecker.checkers
    for name in ("email", "idn-email", "ipv4", "ipv6", "regex", "date", "uuid"):
        func, raises = builtin[name]
        checker.checks(name, raises)(func)
    checker.checks("date-time")(_date_time)
    checker.checks("time")(_time)
    return checker


FORMATS = _format_checker()

# Keywords fastjsonschema reads as jsonschema does (for drafts 4 to 2020-12 alike), and the
# annotations both ignore. A schema with any other keyword is left to jsonschema alone.
_FAST_KEYWORDS = frozenset(
    (
        "type", "properties", "required", "additionalProperties", "patternProperties",
        "enum", "const", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
        "minProperties", "maxProperties", "items",
        "title", "description", "default", "examples", "$comment", "$schema",
    )
)  # fmt: skip
_FAST_DRAFTS = {
    "http://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-07/schema#",
}
_DRAFT7 = "http://json-schema.org/draft-07/schema#"
_DRAFT4 = "http://json-schema.org/draft-04/schema#"


def _safe_pattern(pattern: Any) -> bool:
    # fastjsonschema turns `$` into `\Z`, which only narrows a pattern without lookarounds,
    # inline flags or a `$` in a character class.
    return (
        isinstance(pattern, str) and "(?" not in pattern and not re.search(r"\[[^\]]*\$", pattern)
    )


def _fast_safe(node: Any, root: bool = True) -> bool:
    """Return whether a (sub)schema uses only keywords both validators read alike."""
    if isinstance(node, bool):
        return True
    if not isinstance(node, dict) or not _FAST_KEYWORDS.issuperset(node):
        return False
    if "$schema" in node and not root:
        return False
    if "pattern" in node and not _safe_pattern(node["pattern"]):
        return False
    items = node.get("items", True)
    if isinstance(items, list):
        return False
    subschemas = [items, node.get("additionalProperties", True)]
    for name in ("properties", "patternProperties"):
        value = node.get(name, {})
        if not isinstance(value, dict):
            return False
        if name == "patternProperties" and not all(_safe_pattern(p) for p in value):
            return False
        subschemas += value.values()
    return all(_fast_safe(s, root=False) for s in subschemas)


def compile_fast(schema: Any) -> Callable[[Any], Any] | None:
    """Return fastjsonschema's check of a schema both read alike (it raises when in doubt)."""
    if not isinstance(schema, dict) or not _fast_safe(schema):
        return None
    body = dict(schema)
    # The keywords allowed above mean the same in 2019-09 and 2020-12 as in draft-07.
    if body.get("$schema") not in _FAST_DRAFTS:
        body["$schema"] = _DRAFT7
    try:
        compiled: Callable[[Any], Any] = fastjsonschema.compile(body, formats={}, use_default=False)
    except Exception:  # a definition fastjsonschema refuses: jsonschema alone decides
        return None
    return compiled


def compile_rs(schema: Any) -> Callable[[Any], bool] | None:
    """Return jsonschema-rs's check of a schema of the keywords compile_fast takes, or None.

    Only for draft-06 and later (draft-04 counts 1.0 as no integer; jsonschema-rs may not),
    and portable patterns. The check says True only for documents it accepts; it is trusted only
    to accept, as compile_fast's is.
    """
    if not isinstance(schema, dict) or not _fast_safe(schema) or schema.get("$schema") == _DRAFT4:
        return None
    if not all(contract.portable_pattern(p) for p in contract.patterns(schema)):
        return None
    body = dict(schema)
    body["$schema"] = _DRAFT7  # the keywords taken mean the same in every later draft
    try:
        validator = jsonschema_rs.validator_for(body)
    except Exception:  # a definition jsonschema-rs refuses: the other checks decide
        return None

    def accepts(document: Any) -> bool:
        try:
            return bool(validator.is_valid(document))
        except Exception:  # a value it cannot read (an integer past 64 bits): in doubt
            return False

    return accepts
