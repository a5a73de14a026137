"""EmulatorClient: inspect, reset and load a running emulator over HTTP; MerchantView asserts."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulator.apierrors import TOKEN_ENV, URL_ENV, EmulatorAPIError, EmulatorUnreachable
from emulator.calls import JSON
from emulator.client_faults import FaultRule, add_fault
from emulator.merchant import MerchantView

DEFAULT_TIMEOUT = 3.0

__all__ = [
    "TOKEN_ENV",
    "URL_ENV",
    "EmulatorAPIError",
    "EmulatorClient",
    "EmulatorUnreachable",
    "FaultRule",
    "MerchantView",
]


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

    def clock(self) -> JSON:
        """Return the emulator's clock: {"now", "offset_seconds"}."""
        return self.request("GET", "/_emulator/clock")  # type: ignore[no-any-return]

    def advance(self, duration: str | float) -> JSON:
        """Move the clock forward ('6h', '1h 30m', or seconds); return it and the syncs that ran."""
        return self.request("POST", "/_emulator/clock", {"advance": duration})  # type: ignore[no-any-return]

    def set_clock(self, when: str) -> JSON:
        """Move the clock forward to an ISO-8601 time; return it and the syncs that ran."""
        return self.request("POST", "/_emulator/clock", {"set": when})  # type: ignore[no-any-return]

    def fault(
        self,
        match: Mapping[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        times: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Add a fault rule now; `with client.fault(...) as rule:` removes it at the end.

        For example match={"path": "/v1/batch"}, action={"status": 503}, times=2 (PRODUCT 4.6).
        """
        return add_fault(self, match, action, times, probability)

    def faults(self) -> list[JSON]:
        """Return every fault rule, oldest first, with its hits and remaining calls."""
        return self.request("GET", "/_emulator/faults")["faults"]  # type: ignore[no-any-return]


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
