"""EmulatorClient: inspect, reset, load and assert against a running emulator over HTTP."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emulator.nearmiss import Facts, describe_event_miss, describe_lead_miss, matches

JSON = dict[str, Any]
URL_ENV = "WISHPOND_EMULATOR_URL"
TOKEN_ENV = "WISHPOND_EMULATOR_ADMIN_TOKEN"
DEFAULT_TIMEOUT = 3.0
# The admin API caps one long-poll at 60 s; longer waits chain several.
MAX_POLL = 60.0

__all__ = ["EmulatorAPIError", "EmulatorClient", "EmulatorUnreachable", "MerchantView"]


class EmulatorAPIError(Exception):
    """The emulator answered with a JSON error; carries the status, code and whole body."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.method, self.url, self.status, self.body = method, url, status, body
        self.code: str = str(error.get("code", "http_error"))
        self.message: str = str(error.get("message", body))
        hint = ""
        if self.code in ("admin_token_required", "invalid_admin_token"):
            hint = f" Pass admin_token= to EmulatorClient, or set {TOKEN_ENV}."
        super().__init__(f"{method} {url} -> {status} {self.code}: {self.message}{hint}")


class EmulatorUnreachable(ConnectionError):
    """No emulator answered at the URL."""


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class EmulatorClient:
    """Talk to a running emulator over HTTP: inspect, reset, load and assert."""

    def __init__(
        self, url: str, admin_token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = url.rstrip("/")
        self.admin_token = admin_token if admin_token is not None else os.environ.get(TOKEN_ENV)
        # How long assertions wait for data to arrive.
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EmulatorClient({self.url!r})"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        wait: float = 0.0,
    ) -> Any:
        """Send one request to the emulator and return its decoded JSON answer."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: _param(v) for k, v in query.items()})
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.admin_token:
            req.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(req, timeout=wait + 10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode("utf-8", "replace")
            raise EmulatorAPIError(method, path, exc.code, payload) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EmulatorUnreachable(
                f"No emulator answered at {self.url} ({reason}). Start one with "
                f"`wishpond-emulator`, or point {URL_ENV} / --wishpond-url at a running one."
            ) from None

    def health(self) -> JSON:
        """Return the health document."""
        return self.request("GET", "/_emulator/health")  # type: ignore[no-any-return]

    def wait_ready(self, timeout: float = 10.0) -> JSON:
        """Return health once the emulator answers, or raise after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.health()
            except EmulatorUnreachable:
                if time.monotonic() >= deadline:
                    raise
            # Nothing to long-poll before the server exists; retry a connect briefly.
            time.sleep(0.05)

    def merchants(self) -> list[JSON]:
        """Return every merchant with its counts."""
        return self.request("GET", "/_emulator/merchants")["merchants"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Forget every merchant's data and the request journal."""
        self.request("POST", "/_emulator/reset")

    def state(self) -> JSON:
        """Export the whole state as a state-file document."""
        return self.request("GET", "/_emulator/state")  # type: ignore[no-any-return]

    def load(
        self, path_or_dict: str | os.PathLike[str] | Mapping[str, Any], merge: bool = False
    ) -> list[JSON]:
        """Import a state file or document (replacing, or with merge=True adding merchants)."""
        if isinstance(path_or_dict, Mapping):
            document: Any = dict(path_or_dict)
        else:
            document = json.loads(Path(path_or_dict).read_text(encoding="utf-8"))
        query = {"mode": "merge"} if merge else None
        answer = self.request("PUT", "/_emulator/state", document, query)
        return answer["merchants"]  # type: ignore[no-any-return]

    def requests(self, **filters: Any) -> JSON:
        """Return the request journal (filters surface, merchant_id, outcome, after_id)."""
        return self.request("GET", "/_emulator/requests", query=filters)  # type: ignore[no-any-return]

    def merchant(self, merchant_id: str) -> MerchantView:
        """Return a view scoped to one merchant."""
        return MerchantView(self, merchant_id)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class MerchantView:
    """One merchant's leads, events and audiences, with waiting assertions."""

    def __init__(self, client: EmulatorClient, merchant_id: str) -> None:
        self.client = client
        self.id = merchant_id
        self._path = f"/_emulator/merchants/{_quote(merchant_id)}"

    def __repr__(self) -> str:
        return f"MerchantView({self.client.url!r}, {self.id!r})"

    def leads(
        self,
        email: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        audiences: Mapping[str, bool] | None = None,
        **filters: Any,
    ) -> list[JSON]:
        """Return leads matching email, attributes={name: value} and audiences={key: bool}."""
        query = dict(filters)
        if email is not None:
            query["email"] = email
        query.update({f"attribute.{k}": v for k, v in (attributes or {}).items()})
        query.update({f"audience.{k}": v for k, v in (audiences or {}).items()})
        return self.client.request("GET", self._path + "/leads", query=query)["leads"]  # type: ignore[no-any-return]

    def lead(self, lead_id: str) -> JSON:
        """Return one lead with its events and audience history (EmulatorAPIError if absent)."""
        return self.client.request("GET", f"{self._path}/leads/{_quote(lead_id)}")  # type: ignore[no-any-return]

    def events(self, **filters: Any) -> list[JSON]:
        """Return events matching lead_id, type, event and after_seq."""
        return self._events(filters)

    def _events(self, filters: Mapping[str, Any], wait: float = 0.0, count: int = 1) -> list[JSON]:
        query = {k: v for k, v in filters.items() if v is not None}
        if wait > 0:
            query.update(wait=f"{wait:.3f}", min_count=count)
        return self.client.request("GET", self._path + "/events", query=query, wait=wait)["events"]  # type: ignore[no-any-return]

    def wait_for_events(
        self, count: int = 1, timeout: float | None = None, **filters: Any
    ) -> list[JSON]:
        """Long-poll until count events match, and return them; AssertionError on timeout."""
        __tracebackhide__ = True
        timeout = self.client.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            found = self._events(filters, min(remaining, MAX_POLL), count)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{k}={v!r}" for k, v in filters.items()) or "no filters"
                raise AssertionError(
                    f"Merchant {self.id!r}: expected {count} event(s) matching {shown} "
                    f"within {timeout:g}s, found {len(found)}: "
                    + json.dumps([_brief(e) for e in found])
                )

    def reset(self) -> None:
        """Forget this merchant's leads, visitors and events."""
        self.client.request("DELETE", self._path)

    def sync_audience(self, key: str, members: Sequence[str], name: str | None = None) -> JSON:
        """Sync an Engage audience's members, as Segment Engage would; return the emitted calls."""
        body: JSON = {"members": list(members)}
        if name is not None:
            body["name"] = name
        return self.client.request("PUT", f"{self._path}/audiences/{_quote(key)}", body)  # type: ignore[no-any-return]

    def _lead_or_none(self, lead_id: str) -> JSON | None:
        try:
            return self.lead(lead_id)
        except EmulatorAPIError as exc:
            if exc.code == "lead_not_found":
                return None
            raise

    def _wait_for_change(self, lead_id: str, after_seq: int, deadline: float) -> bool:
        """Block until the lead gets an event after after_seq; False once the deadline passes."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        query = {"lead_id": lead_id, "after_seq": after_seq}
        self._events(query, min(remaining, MAX_POLL), 1)
        return True

    def assert_lead(self, lead_id: str, /, **attributes: Any) -> JSON:
        """Wait for the lead to exist with these attribute values; return it or explain."""
        __tracebackhide__ = True
        deadline = time.monotonic() + self.client.timeout
        while True:
            lead = self._lead_or_none(lead_id)
            if lead is not None and matches(lead["attributes"], attributes):
                return lead
            last_seq = max((e["seq"] for e in (lead or {}).get("events", [])), default=0)
            if not self._wait_for_change(lead_id, last_seq, deadline):
                break
        facts = None if lead is not None else self._facts(lead_id)
        raise AssertionError(
            describe_lead_miss(self.id, lead_id, attributes, lead, self.client.timeout, facts)
        )

    def assert_event(self, lead_id: str, event: str, /, **properties: Any) -> JSON:
        """Wait for a track event with this title and properties on the lead; return it."""
        __tracebackhide__ = True
        deadline = time.monotonic() + self.client.timeout
        while True:
            found = self.events(lead_id=lead_id)
            for candidate in found:
                if (
                    candidate["type"] == "track"
                    and candidate["event"] == event
                    and matches(candidate["properties"] or {}, properties)
                ):
                    return candidate
            last_seq = max((e["seq"] for e in found), default=0)
            if not self._wait_for_change(lead_id, last_seq, deadline):
                break
        missing = not found and self._lead_or_none(lead_id) is None
        raise AssertionError(
            describe_event_miss(
                self.id,
                lead_id,
                event,
                properties,
                found,
                self.events(event=event),
                self.client.timeout,
                self._facts(lead_id) if missing else None,
            )
        )

    def _facts(self, lead_id: str) -> Facts:
        """Gather what the emulator holds around a lead id that this merchant lacks."""
        others = [m for m in self.client.merchants() if m["id"] != self.id]
        unlinked = any(e["lead_id"] is None and e["anonymous_id"] == lead_id for e in self.events())
        elsewhere = [
            m["id"]
            for m in others
            if m.get("lead_count") and self.client.merchant(m["id"])._lead_or_none(lead_id)
        ]
        busy = [(m["id"], m["event_count"]) for m in others if m["event_count"] or m["lead_count"]]
        return Facts(self.id, self.leads(), unlinked, elsewhere, busy)


def _brief(event: JSON) -> JSON:
    keep = ("seq", "type", "lead_id", "anonymous_id", "event", "properties", "attributes")
    return {k: event[k] for k in keep if event.get(k) is not None}
