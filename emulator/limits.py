"""The one rule for everything that comes in: strict JSON, bounded nesting, usable ids (pure).

Request bodies, `PUT /_emulator/state`, `--import` and any other way state enters decode with
`decode_json` and check ids with `id_problem`, so nothing stored can be nested deeper than the
JSON encoder can write back, or hold a string no JSON encoder can encode.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from emulator.errors import EmulatorError

# Deepest nesting of a request body (the top level is depth 1).
MAX_DEPTH = 64
# A state document wraps each stored value in four more levels (merchants, the merchant, its
# events or leads, the event or lead), so what a body carried can always be imported back.
STATE_DEPTH = MAX_DEPTH + 4
MAX_ID = 256
# A JSON escape of a UTF-16 surrogate; raw UTF-8 cannot hold one, so only these can.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# 19 digits in a row: a number orjson might read differently from json (an integer past 64
# bits becomes a float there), so such a body is decoded by json alone. Every digit mapped to
# "0" and every other byte to " ", one substring search finds them (a regex takes 10 times as
# long on a batch).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 19


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send numbers as finite values or strings")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is too large for a JSON number; send it as a string")
    return value


# Built once: json.loads(text, parse_constant=...) would build a decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Return whether no value sits deeper than limit (the top level is depth 1)."""
    # Breadth-first over containers only: scalars, most of a body, are never pushed.
    level = [value] if type(value) in (dict, list) else []
    depth = 1
    while level:
        if depth >= limit and any(level):  # a non-empty container here has deeper items
            return False
        deeper = []
        for item in level:
            deeper += [
                v
                for v in (item.values() if type(item) is dict else item)
                if type(v) in (dict, list)
            ]
        level = deeper
        depth += 1
    return True


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """Return the field path of the first string (key or value) holding a lone surrogate."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if type(item) is str:
            if not _encodable(item):
                return where or "(body)"
        elif type(item) is dict:
            for key, sub in item.items():
                # A key is shown escaped: it may be the very string that is not text.
                shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
                inner = f"{where}.{shown}" if where else shown
                if not _encodable(key):
                    return inner
                stack.append((sub, inner))
        elif type(item) is list:
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode(raw: bytes, text: str) -> Any:
    """Return the value json reads from text; orjson reads it faster where it reads the same.

    orjson refuses all that json refuses here (NaN, infinities, lone surrogates, bad UTF-8,
    nesting past its limit) and reads every other document to the same value, except integers
    past 64 bits: a body that could hold one, or that orjson refuses, is left to json, whose
    error messages are the ones answered. orjson also shares each short key's string across
    documents, so millions of stored events do not hold a copy of the same key each.
    """
    if _LONG_DIGITS not in raw.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return _DECODER.decode(text)


def decode_json(raw: bytes, limit: int = MAX_DEPTH, what: str = "The body") -> Any:
    """Decode strict UTF-8 JSON (no NaN, no lone surrogate, nesting within limit) or raise 400."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EmulatorError(
            "invalid_utf8", f"{what} is not valid UTF-8 (byte {exc.start}); send UTF-8 JSON."
        ) from None
    if not text.strip():
        raise EmulatorError("invalid_json", f"{what} is empty; send a JSON object.")
    if text.startswith("\ufeff"):
        raise EmulatorError(
            "invalid_json", f"{what} starts with a byte-order mark; send JSON without one."
        )
    too_deep = EmulatorError(
        "invalid_json", f"The JSON is nested too deeply; keep it under {limit} levels."
    )
    try:
        value = _decode(raw, text)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise EmulatorError("invalid_json", f"{what} is not valid JSON: {exc}.") from None
    # Nesting can't exceed the count of brackets; walk the value only when it might.
    if text.count("{") + text.count("[") >= limit and not depth_ok(value, limit):
        raise too_deep
    if _SURROGATE_ESCAPE.search(text):
        where = lone_surrogate(value)
        if where is not None:
            raise EmulatorError(
                "invalid_unicode",
                f"{where} holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its "
                "pair), which is not text; send valid Unicode.",
                field=where,
            )
    return value


def id_problem(value: str, name: str) -> str | None:
    """Return what makes a lead id unusable (after any number became a string), or None."""
    if len(value) > MAX_ID:
        return f"{name} is {len(value)} characters as a string; send at most {MAX_ID}."
    if value in (".", ".."):
        return f"{name} {value!r} cannot be named in a URL path; use another id."
    return None
