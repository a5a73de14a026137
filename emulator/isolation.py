"""A merchant of its own for each test: a stable, valid id per test and worker, and its view."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulator.calls import JSON
from emulator.client_faults import FaultRule, add_fault
from emulator.merchant import MerchantView

MAX_ID = 128
DIGEST = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")


def _slug(text: str, limit: int) -> str:
    return _UNSAFE.sub("-", text).strip("-.~")[:limit].rstrip("-.~")


def merchant_id_for(nodeid: str, worker: str | None = None) -> str:
    """Return a valid merchant id unique to this test node on this worker, readable where it can be.

    The id is `[worker.]name-digest`: the test's name cut to fit 128 characters, and a digest of
    the worker and the whole node id, so two tests (or two workers) never share a merchant and a
    rerun of the same test gets the same one back.
    """
    digest = hashlib.sha256(f"{worker or ''}\n{nodeid}".encode()).hexdigest()[:DIGEST]
    prefix = f"{_slug(worker, 16)}." if worker and _slug(worker, 16) else ""
    name = _slug(nodeid.rpartition("::")[2], MAX_ID - len(prefix) - DIGEST - 1) or "test"
    return f"{prefix}{name}-{digest}"


def strict_refusal(url: str, merchant_id: str, configured: list[str]) -> str:
    """Explain why a per-test merchant cannot work against a server in strict mode."""
    known = ", ".join(repr(m) for m in configured) or "none"
    return (
        f"wishpond_merchant needs an emulator in open mode, but the one at {url} is in strict "
        f"mode (configured merchants: {known}): it would refuse this test's merchant "
        f"{merchant_id!r} with 401 unknown_merchant. Serve the shared emulator without "
        "--merchant / WISHPOND_EMULATOR_MERCHANTS, or in a test that checks credentials use "
        "wishpond_emulator.merchant(ID) with a configured merchant and its write key."
    )


class IsolatedMerchant(MerchantView):
    """A test's own merchant: what to hand the app under test, and a load scoped to it."""

    def __repr__(self) -> str:
        return f"IsolatedMerchant({self.client.url!r}, {self.id!r})"

    @property
    def url(self) -> str:
        """Return the emulator's base URL, for the app's tracker or Segment host setting."""
        return self.client.url

    @property
    def write_key(self) -> str:
        """Return a write key for this merchant: in open mode, the merchant id itself.

        The tracker accepts any key in open mode, and a Segment write key names its merchant,
        so the one value works for both surfaces.
        """
        return self.id

    def load(
        self, source: str | os.PathLike[str] | Mapping[str, Any], merchant: str | None = None
    ) -> None:
        """Replace this merchant's data with a merchant body or one merchant of a state file.

        `source` is a state document (or its path) with `merchant` naming which of its merchants
        to take (optional when it holds one), or a bare merchant body `{"leads": [...], ...}`.
        Other merchants are left alone.
        """
        if isinstance(source, Mapping):
            document: Any = dict(source)
        else:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
        body = _merchant_body(document, merchant)
        self.client.request(
            "PUT", "/_emulator/state", {"merchants": {self.id: body}}, {"mode": "merge"}
        )

    def fault(
        self,
        action: Mapping[str, Any],
        match: Mapping[str, Any] | None = None,
        times: int | None = None,
        probability: float | None = None,
    ) -> FaultRule:
        """Add a fault rule for this merchant's calls only; `with` removes it at the end.

        On an emulator other tests share, a rule without merchant_id would fail their calls too.
        """
        scoped = {**(match or {}), "merchant_id": self.id}
        return add_fault(self.client, scoped, action, times, probability)


def _merchant_body(document: JSON, merchant: str | None) -> JSON:
    """Pick one merchant's body out of a state document, or take a bare merchant body."""
    merchants = document.get("merchants")
    if not isinstance(merchants, dict):
        if merchant is not None:
            raise ValueError(f"merchant={merchant!r} given, but the document has no 'merchants'.")
        return document
    if merchant is None:
        if len(merchants) != 1:
            raise ValueError(
                f"The state document holds {len(merchants)} merchants "
                f"({', '.join(sorted(merchants)) or 'none'}); name one with merchant=."
            )
        (merchant,) = merchants
    if merchant not in merchants:
        raise ValueError(
            f"The state document has no merchant {merchant!r}; it holds "
            f"{', '.join(sorted(merchants)) or 'none'}."
        )
    body = merchants[merchant]
    if not isinstance(body, dict):
        raise ValueError(f"Merchant {merchant!r} of the state document is not an object.")
    return body
