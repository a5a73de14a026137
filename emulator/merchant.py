"""MerchantView: one merchant's leads, events and audiences, with waiting assertions."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from emulator.apierrors import EmulatorAPIError
from emulator.calls import JSON
from emulator.nearmiss import (
    Facts,
    describe_event_miss,
    describe_lead_miss,
    matches,
    no_lead_lines,
)
from emulator.nearmiss_engage import AudienceFacts, describe_audience_miss
from emulator.planview import PlanChecks

# The admin API caps one long-poll at 60 s; longer waits chain several.
MAX_POLL = 60.0


class Client(Protocol):
    """What a merchant view needs of the client it was made by."""

    url: str
    timeout: float

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        wait: float = 0.0,
    ) -> Any: ...

    def merchants(self) -> list[JSON]: ...

    def merchant(self, merchant_id: str) -> MerchantView: ...

    def clock(self) -> JSON: ...


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class MerchantView(PlanChecks):
    """One merchant's leads, events and audiences, with waiting assertions."""

    def __init__(self, client: Client, merchant_id: str) -> None:
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

    def define_audience(
        self,
        key: str,
        rule: Mapping[str, Any],
        name: str | None = None,
        first_sync_after: str | float | None = None,
        sync_every: str | float | None = None,
    ) -> JSON:
        """Define a computed audience that Engage syncs on the emulator's clock; return it.

        rule is {"event", "within", "min_count", "where"} or {"trait", "equals"}; the first
        sync runs first_sync_after (default 6h) from now, then one every sync_every (3h).
        """
        body: JSON = {"rule": dict(rule)}
        timings = {"name": name, "first_sync_after": first_sync_after, "sync_every": sync_every}
        body.update({k: v for k, v in timings.items() if v is not None})
        return self.client.request("PUT", self._audience_path(key), body)  # type: ignore[no-any-return]

    def computed_audiences(self) -> list[JSON]:
        """Return this merchant's computed audiences with their members and next sync."""
        answer = self.client.request("GET", self._path + "/computed-audiences")
        return answer["computed_audiences"]  # type: ignore[no-any-return]

    def run_sync(self, key: str) -> JSON:
        """Run a computed audience's sync now; return who entered and exited, and the calls."""
        return self.client.request("POST", self._audience_path(key) + "/sync")  # type: ignore[no-any-return]

    def _audience_path(self, key: str) -> str:
        return f"{self._path}/computed-audiences/{_quote(key)}"

    def _computed_or_none(self, key: str) -> JSON | None:
        try:
            return self.client.request("GET", self._audience_path(key))  # type: ignore[no-any-return]
        except EmulatorAPIError as exc:
            if exc.code in ("audience_not_found", "invalid_audience_key"):
                return None
            raise

    def assert_audience(self, lead_id: str, key: str, value: bool, /) -> JSON:
        """Assert the lead's membership of audience key is value; return the lead or explain.

        A computed audience changes only when a sync runs on the emulator's clock, so it is
        checked at once; any other audience (synced by hand or sent through Segment) is waited
        for, as assert_lead waits.
        """
        __tracebackhide__ = True
        audience = self._computed_or_none(key)
        deadline = time.monotonic() + (0.0 if audience is not None else self.client.timeout)
        while True:
            lead = self._lead_or_none(lead_id)
            if lead is not None and lead["audiences"].get(key) is value:
                return lead
            last_seq = max((e["seq"] for e in (lead or {}).get("events", [])), default=0)
            if not self._wait_for_change(lead_id, last_seq, deadline):
                break
        missing = [] if lead is not None else no_lead_lines(lead_id, self._facts(lead_id))
        waited = 0.0 if audience is not None else self.client.timeout
        now = self.client.clock()["now"]
        facts = AudienceFacts(self.id, lead_id, key, value, now, lead, audience, missing, waited)
        raise AssertionError(describe_audience_miss(facts))

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

    def dropped(self) -> list[JSON]:
        """Return this merchant's journal entries that dropped messages or were rejected.

        Each entry carries `drops` (each message's index, reason and fields) and, when the call
        was rejected, its `error`. Calls whose write key routed to no merchant are not here:
        they belong to no merchant (the pytest plugin's failure report lists them).
        """
        return dropped_calls(self.client, merchant_id=self.id)

    def assert_nothing_dropped(self) -> None:
        """Fail, listing each drop with its reason and the message's fields, if any call dropped."""
        __tracebackhide__ = True
        entries = self.dropped()
        if entries:
            raise AssertionError(
                f"Merchant {self.id!r}: {len(entries)} call(s) dropped or rejected messages:\n"
                + describe_drops(entries)
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


def dropped_calls(client: Client, after_id: int = 0, merchant_id: str | None = None) -> list[JSON]:
    """Return the journal's dropped and rejected entries after after_id, oldest first."""
    query: JSON = {"after_id": after_id}
    if merchant_id is not None:
        query["merchant_id"] = merchant_id
    found = [
        entry
        for outcome in ("dropped", "rejected")
        for entry in client.request(
            "GET", "/_emulator/requests", query={**query, "outcome": outcome}
        )["requests"]
    ]
    return sorted(found, key=lambda e: e["id"])


def _fields(message: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in message.items()) or "no fields"


def describe_drops(entries: Sequence[JSON]) -> str:
    """Return one line per dropped message (or rejected call): where, why, and what it held."""
    lines = []
    for entry in entries:
        merchant = entry.get("merchant_id")
        where = f"{entry['method']} {entry['path']} -> {entry['status']}"
        where += f" for merchant {merchant!r}" if merchant is not None else " (no merchant)"
        for drop in entry.get("drops") or []:
            lines.append(
                f"  {where}: message {drop['index']} ({_fields(drop.get('message') or {})}): "
                f"{drop['reason']}"
            )
        if not entry.get("drops"):
            error = entry.get("error") or {}
            lines.append(f"  {where}: {error.get('code', 'error')}: {error.get('message', '')}")
    return "\n".join(lines)
