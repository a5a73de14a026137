"""A merchant to and from the state-file form (GET/PUT /_emulator/state, fixtures)."""

from __future__ import annotations

import glob
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import contract
from emulator import computed, limits
from emulator.calls import JSON
from emulator.clock import utc_now
from emulator.errors import EmulatorError
from emulator.model import MESSAGE_ID_WINDOW, Event, Lead, Merchant, Visitor


def lead_form(lead: Lead) -> JSON:
    """Return a lead's state-file form."""
    return {**lead.to_json(), "audience_history": list(lead.audience_history)}


def visitor_form(visitor: Visitor) -> JSON:
    """Return a visitor's state-file form."""
    return {"anonymous_id": visitor.anonymous_id, "lead_id": visitor.lead_id}


def dump(m: Merchant) -> JSON:
    """Return a merchant's state-file form."""
    out: JSON = {
        "leads": [lead_form(lead) for lead in m.leads.values()],
        "visitors": [visitor_form(v) for v in m.visitors.values()],
        "events": [e.to_json() for e in m.events],
        "message_ids": list(m.message_ids),
    }
    if m.computed:
        out["computed_audiences"] = [a.to_json() for a in m.computed.values()]
    return out


def build(merchant_id: str, body: Mapping[str, Any], now: str | None = None) -> Merchant:
    """Rebuild a merchant and its indexes from its exported form; now stamps untimed records."""
    m = Merchant(merchant_id)
    stamp = now or utc_now()
    m.computed = {raw["key"]: computed.build(raw) for raw in body.get("computed_audiences", [])}
    for raw in body.get("leads", []):
        lead = Lead(
            id=raw["id"],
            created_at=raw.get("created_at") or stamp,
            updated_at=raw.get("updated_at") or raw.get("created_at") or stamp,
            attributes=dict(raw.get("attributes", {})),
            audiences=dict(raw.get("audiences", {})),
            anonymous_ids=list(raw.get("anonymous_ids", [])),
            audience_history=[dict(h) for h in raw.get("audience_history", [])],
        )
        m.leads[lead.id] = lead
        m.index_email(lead, None)
    # The visitor list (in its order) says who is linked; leads' anonymous_ids fill the gaps.
    for raw in body.get("visitors", []):
        m.visitors[raw["anonymous_id"]] = Visitor(raw["anonymous_id"], raw.get("lead_id"))
    for lead in m.leads.values():
        for anon in lead.anonymous_ids:
            known = m.visitors.setdefault(anon, Visitor(anon, lead.id))
            if known.lead_id is None:
                known.lead_id = lead.id
    for i, raw in enumerate(body.get("events", []), start=1):
        ev = Event(
            seq=i,
            type=raw["type"],
            lead_id=raw.get("lead_id"),
            anonymous_id=raw.get("anonymous_id"),
            event=raw.get("event"),
            properties=raw.get("properties"),
            attributes=raw.get("attributes"),
            source=raw.get("source", "import"),
            received_at=raw.get("received_at") or stamp,
            message_id=raw.get("message_id"),
            violations=raw.get("violations"),
        )
        timestamp = raw.get("timestamp")
        ev.timestamp = timestamp if timestamp != ev.received_at else None
        anon_id = ev.anonymous_id
        if ev.lead_id is None and anon_id is not None and anon_id in m.visitors:
            # A linked visitor's history belongs to its lead, as re-attribution would have made it.
            ev.lead_id = m.visitors[anon_id].lead_id
        lead_id: str | None = ev.lead_id
        if lead_id is not None and lead_id not in m.leads:
            m.leads[lead_id] = Lead(lead_id, ev.received_at, ev.received_at)
        if anon_id is not None and anon_id not in m.visitors:
            m.visitors[anon_id] = Visitor(anon_id, None)
        m.add_event(ev)
    # A file without the window (older ones, hand-written fixtures) holds its events' ids.
    ids = body.get("message_ids")
    if ids is None:
        ids = [e.message_id for e in m.events if e.message_id is not None]
    for message_id in ids[-MESSAGE_ID_WINDOW:]:
        m.hold(message_id)
    for lead in m.leads.values():
        lead.anonymous_ids = [a for a in lead.anonymous_ids if m.visitors[a].lead_id == lead.id]
    for visitor in m.visitors.values():
        if visitor.lead_id is not None:
            if visitor.lead_id not in m.leads:
                m.leads[visitor.lead_id] = Lead(visitor.lead_id, stamp, stamp)
            lead = m.leads[visitor.lead_id]
            if visitor.anonymous_id not in lead.anonymous_ids:
                lead.anonymous_ids.append(visitor.anonymous_id)
    return m


def admit(doc: Any, *, nesting_checked: bool = False) -> dict[str, Any]:
    """Check a decoded state document by the rule every way in shares, or raise a 400.

    Nesting within STATE_DEPTH, the state schema, and lead ids a URL can name: whatever passes
    can be stored, served and exported again. nesting_checked says the nesting is known to be
    within STATE_DEPTH already (limits.decode_json checked it), so it is not walked again.
    """
    if not nesting_checked and not limits.depth_ok(doc, limits.STATE_DEPTH):
        raise EmulatorError(
            "invalid_json",
            f"The state is nested too deeply; keep it under {limits.STATE_DEPTH} levels.",
        )
    try:
        contract.validate("state", doc)
    except contract.ContractError as exc:
        raise EmulatorError("invalid_request", str(exc), field=exc.field) from None
    for merchant_id, body in doc["merchants"].items():
        ids = {lead["id"] for lead in body.get("leads", [])}
        ids.update(v["lead_id"] for v in body.get("visitors", []) if v.get("lead_id"))
        ids.update(e["lead_id"] for e in body.get("events", []) if e.get("lead_id"))
        for lead_id in ids:
            problem = limits.id_problem(lead_id, "lead id")
            if problem is not None:
                raise EmulatorError(
                    "invalid_request", f"merchants.{merchant_id}: {problem}", field="lead_id"
                )
    return doc  # type: ignore[no-any-return]


def load_state_file(path: str) -> dict[str, Any]:
    """Read and check a state file, raising a clear error that names it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise EmulatorError("invalid_import", f"Cannot read {path}: {exc.strerror}.") from None
    try:
        doc = limits.decode_json(raw, limits.STATE_DEPTH, what="the file")
        return admit(doc, nesting_checked=True)
    except EmulatorError as exc:
        raise EmulatorError(
            "invalid_import", f"{path} is not a state file: {exc.message}"
        ) from None


def _temporaries(target: Path) -> list[Path]:
    return list(target.parent.glob(f".{glob.escape(target.name)}.*.tmp"))


def prepare_export(path: str) -> None:
    """Check at start that path can be written at exit, and remove temporaries a kill left."""
    target = Path(path)
    if target.is_dir():
        raise EmulatorError(
            "invalid_setting", f"--export-on-exit {path} is a directory; name a file in it."
        )
    blocker = next((p for p in target.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise EmulatorError(
            "invalid_setting",
            f"--export-on-exit {path} cannot be written: {blocker} is a file, not a directory; "
            "choose a file in a directory the emulator may write to.",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise EmulatorError(
            "invalid_setting",
            f"--export-on-exit {path} cannot be written ({exc.strerror}); choose a file in a "
            "directory the emulator may write to.",
        ) from None
    for stale in _temporaries(target):
        stale.unlink(missing_ok=True)


def _mode(target: Path) -> int:
    """Return the mode an export gives target: its own, or 0644 under the umask if new."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o644 & ~umask


def write_atomically(path: str, data: Any) -> None:
    """Write JSON to a temporary file beside path, then rename it into place.

    The file keeps its mode (a new one gets 0644 under the umask), and temporaries an
    interrupted export left behind are removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in _temporaries(target):
        stale.unlink(missing_ok=True)
    mode = _mode(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
