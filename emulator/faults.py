"""Fault rules, pure: read a rule, match a call, decide what a rule does to it, rate-limit windows.

A rule answers matching surface calls in the emulator's place (PRODUCT 4.6). Nothing here holds
state or knows HTTP: the fault book keeps the rules, the surfaces apply what `decide` returns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.calls import JSON
from emulator.errors import EmulatorError

SURFACES = ("tracker", "segment", "engage")
# Wishpond's documented limit (reference/wishpond-facts.md 2): 100 calls, then 429 until 60 s
# after the window's first call.
RATE_LIMIT = 100
RATE_WINDOW_MS = 60_000
RATE_LIMIT_BODY = {"error": "Rate Limit Exceeded"}
PRESETS = ("wishpond_rate_limit",)
# The WSGI environ key by which the app asks its server to close the connection unanswered.
DROP_ENVIRON = "wishpond_emulator.drop"
# Paths the surfaces serve; a rule on any other path could never fire.
_SURFACE_PATH = re.compile(r"^(/tracker/v1/|/v1/|/_emulator/merchants/[^/]+/audiences(/|$))")
NO_BODY = (204, 205, 304)


@dataclass(frozen=True)
class Target:
    """One surface call, as a rule sees it."""

    surface: str
    method: str
    path: str
    merchant_id: str | None


@dataclass(frozen=True)
class Window:
    """One merchant's rate-limit window: when its first call came, and how many came since."""

    start_ms: int
    count: int


@dataclass(frozen=True)
class Verdict:
    """What a rule does to one call."""

    rule_id: str
    status: int | None = None
    body: Any = None
    has_body: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_ms: int = 0
    drop: str | None = None
    apply: bool = False

    @property
    def answers_now(self) -> bool:
        """Return whether the call is answered before it is applied (and so never applied)."""
        return self.drop == "before" or (self.status is not None and not self.apply)

    def describe(self) -> str:
        """Return what the fault did, for the journal's summary."""
        parts = [f"{self.delay_ms} ms late"] if self.delay_ms else []
        if self.drop == "before":
            parts.append("closed without an answer, nothing applied")
        elif self.drop == "after":
            parts.append("applied, then closed without an answer")
        elif self.status is not None:
            parts.append(
                ("applied, then answered " if self.apply else "answered ") + str(self.status)
            )
        return f"fault {self.rule_id}: " + ", ".join(parts or ["passed"])


@dataclass
class Rule:
    """One fault rule: what it matches, what it does, how often, and how often it has."""

    id: str
    match: JSON
    action: JSON
    times: int | None = None
    probability: float = 1.0
    created_at: str = ""
    hits: int = 0
    # Per merchant (None: calls no merchant could be named for), for the rate-limit preset.
    windows: dict[str | None, Window] = field(default_factory=dict)

    @property
    def remaining(self) -> int | None:
        """Return how many more calls the rule may answer; None without times."""
        return None if self.times is None else max(0, self.times - self.hits)

    def to_json(self) -> JSON:
        """Return the rule as the admin API shows it."""
        return {
            "id": self.id,
            "match": dict(self.match),
            "action": dict(self.action),
            "times": self.times,
            "probability": self.probability,
            "created_at": self.created_at,
            "hits": self.hits,
            "remaining": self.remaining,
        }


def _refuse(field_name: str, message: str) -> EmulatorError:
    return EmulatorError("invalid_fault", message, 400, field=field_name)


def refuse_admin(doc: Any) -> None:
    """Refuse a rule for the admin API by name, before its schema would list the surfaces."""
    match = doc.get("match") if isinstance(doc, dict) else None
    if isinstance(match, dict) and match.get("surface") == "admin":
        raise _refuse(
            "match.surface",
            "match.surface 'admin' is refused: faults never apply to the admin API. Match "
            "tracker, segment or engage.",
        )


def parse(doc: JSON, rule_id: str, created_at: str) -> Rule:
    """Return the rule a request (already checked against fault-request) describes.

    Raise a 400 naming the field for what a schema cannot say: combinations of actions.
    """
    match = dict(doc.get("match") or {})
    action = dict(doc["action"])
    path = match.get("path")
    if isinstance(path, str) and not _SURFACE_PATH.match(path):
        raise _refuse(
            "match.path",
            f"match.path {path[:200]!r} is not a path faults apply to; they apply to the "
            "tracker (/tracker/v1/...), Segment (/v1/...) and Engage audience syncs "
            "(/_emulator/merchants/{m}/audiences...), never to the admin API.",
        )
    if "method" in match:
        match["method"] = match["method"].upper()
    _check_action(action)
    return Rule(
        rule_id,
        match,
        action,
        doc.get("times"),
        float(doc.get("probability", 1.0)),
        created_at,
    )


def _check_action(action: JSON) -> None:
    given = {k for k, v in action.items() if k != "apply" or v}
    for name in ("body", "headers", "apply"):
        if name in given and not given & {"status", "preset", "drop"}:
            raise _refuse(
                f"action.{name}",
                f'action.{name} needs a status to answer with; add one, e.g. "status": 503.',
            )
    if not given & {"status", "preset", "drop", "delay_ms"}:
        raise _refuse(
            "action",
            "action does nothing; give a status (e.g. 503), a preset, drop ('before' or "
            "'after') or delay_ms.",
        )
    if "drop" in given and given & {"status", "body", "headers", "apply", "preset"}:
        raise _refuse(
            "action.drop",
            "action.drop closes the connection without an answer, so it takes no status, "
            "body, headers, apply or preset; give drop alone (with delay_ms if you like).",
        )
    if "preset" in given and given & {"status", "body", "apply"}:
        raise _refuse(
            "action.preset",
            "action.preset answers in place of status, with its own body; leave out status, "
            "body and apply (headers and delay_ms may stay).",
        )
    if "body" in given and action.get("status") in NO_BODY:
        raise _refuse("action.body", f"a {action['status']} answer has no body; leave body out.")


def covers(match: Mapping[str, Any], target: Target) -> bool:
    """Return whether a rule's match covers a call (every key given must agree)."""
    given = vars(target)
    return all(given[name] == value for name, value in match.items())


def rate_limit(window: Window | None, now_ms: int) -> tuple[Window, int | None]:
    """Count one call in a window; return the window and, past the limit, Retry-After seconds.

    A window starts at its first call and ends RATE_WINDOW_MS later; a call after that starts
    the next one.
    """
    if window is None or now_ms >= window.start_ms + RATE_WINDOW_MS or now_ms < window.start_ms:
        window = Window(now_ms, 0)
    window = Window(window.start_ms, window.count + 1)
    if window.count <= RATE_LIMIT:
        return window, None
    left_ms = window.start_ms + RATE_WINDOW_MS - now_ms
    return window, max(1, math.ceil(left_ms / 1000))


def decide(
    rule: Rule, target: Target, now_ms: int, draw: Callable[[], float]
) -> tuple[Verdict | None, Window | None]:
    """Return what a rule does to a call it covers (None: the call passes), and its new window.

    The window is the merchant's, for the rate-limit preset (None for other rules). draw is
    called once when the rule's probability is under 1.
    """
    action = rule.action
    window = None
    headers = dict(action.get("headers") or {})
    status, body, has_body = action.get("status"), action.get("body"), "body" in action
    if action.get("preset") == "wishpond_rate_limit":
        window, retry_after = rate_limit(rule.windows.get(target.merchant_id), now_ms)
        if retry_after is None:
            return None, window
        status, body, has_body = 429, RATE_LIMIT_BODY, True
        headers["Retry-After"] = str(retry_after)
    if rule.probability < 1 and draw() >= rule.probability:
        return None, window
    verdict = Verdict(
        rule.id,
        status,
        body,
        has_body,
        headers,
        action.get("delay_ms", 0),
        action.get("drop"),
        bool(action.get("apply")),
    )
    return verdict, window
