"""A stateful test: random identify/track/Engage/reset/export-import over HTTP, against a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from emulator import create_app
from tests.strategies import anon_ids, json_objects, lead_ids, titles

MERCHANTS = st.sampled_from(["m1", "m2"])
KEYS = st.sampled_from(["order_completed_last_30days", "vip"])
_CLIENT = create_app().test_client()


@dataclass
class ModelLead:
    attributes: dict[str, Any] = field(default_factory=dict)
    audiences: dict[str, bool] = field(default_factory=dict)
    history: list[tuple[str, bool]] = field(default_factory=list)
    anonymous_ids: list[str] = field(default_factory=list)


@dataclass
class ModelMerchant:
    leads: dict[str, ModelLead] = field(default_factory=dict)
    visitors: dict[str, str | None] = field(default_factory=dict)
    # (type, lead_id, anonymous_id, title) per seq
    events: list[list[Any]] = field(default_factory=list)

    def log(self, kind: str, lead: str | None, anon: str | None, title: str | None) -> None:
        self.events.append([kind, lead, anon, title])

    def link(self, anon: str, lead: str) -> None:
        previous = self.visitors.get(anon)
        if previous == lead:
            return
        if previous is not None:
            self.leads[previous].anonymous_ids.remove(anon)
        else:
            for ev in self.events:  # first link: the visitor's history joins the lead
                if ev[2] == anon and ev[1] is None:
                    ev[1] = lead
        self.visitors[anon] = lead
        self.leads[lead].anonymous_ids.append(anon)


class EmulatorMachine(RuleBasedStateMachine):
    """Drive the emulator through its public HTTP surfaces and keep a plain model beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.client = _CLIENT
        assert self.client.post("/_emulator/reset").status_code == 200
        self.model: dict[str, ModelMerchant] = {}

    def merchant(self, m: str) -> ModelMerchant:
        return self.model.setdefault(m, ModelMerchant())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        r = self.client.post(path, json=body)
        assert r.status_code == 200, r.json
        return r.json

    @rule(m=MERCHANTS, lead=lead_ids, anon=st.none() | anon_ids, attributes=json_objects)
    def identify(self, m: str, lead: str, anon: str | None, attributes: dict[str, Any]) -> None:
        body = {"merchant_id": m, "write_key": "k", "id": lead, "attributes": attributes}
        if anon is not None:
            body["anonymous_id"] = anon
        self.post("/tracker/v1/identify", body)
        model = self.merchant(m)
        model.leads.setdefault(lead, ModelLead()).attributes.update(attributes)
        if anon is not None:
            model.visitors.setdefault(anon, None)
            model.link(anon, lead)
        model.log("identify", lead, anon, None)

    @rule(m=MERCHANTS, anon=anon_ids, title=titles, properties=json_objects)
    def track(self, m: str, anon: str, title: str, properties: dict[str, Any]) -> None:
        body = {
            "merchant_id": m,
            "write_key": "k",
            "anonymous_id": anon,
            "event": title,
            "properties": properties,
        }
        event = self.post("/tracker/v1/track", body)["event"]
        model = self.merchant(m)
        model.visitors.setdefault(anon, None)
        model.log("track", model.visitors[anon], anon, title)
        assert event["properties"] == properties

    @rule(m=MERCHANTS, key=KEYS, members=st.lists(lead_ids, unique=True, max_size=4))
    def sync_audience(self, m: str, key: str, members: list[str]) -> None:
        r = self.client.put(
            f"/_emulator/merchants/{m}/audiences/{key}", json={"name": key, "members": members}
        )
        assert r.status_code == 200, r.json
        model = self.merchant(m)
        before = {lid for lid, lead in model.leads.items() if lead.audiences.get(key) is True}
        first = not any(key in lead.audiences for lead in model.leads.values())
        joined = members if first else [x for x in members if x not in before]
        left = [] if first else sorted(before - set(members))
        assert (r.json["joined"], r.json["left"], r.json["first_sync"]) == (joined, left, first)
        for lead_id, value in [(x, True) for x in joined] + [(x, False) for x in left]:
            lead = model.leads.setdefault(lead_id, ModelLead())
            lead.attributes.update({key: value, "id": lead_id})
            lead.audiences[key] = value
            lead.history.append((key, value))
            model.log("identify", lead_id, None, None)

    @rule(m=MERCHANTS)
    def reset_merchant(self, m: str) -> None:
        assert self.client.delete(f"/_emulator/merchants/{m}").status_code == 200
        self.model.pop(m, None)

    @rule()
    def export_reset_import(self) -> None:
        state = self.client.get("/_emulator/state").json
        assert self.client.post("/_emulator/reset").status_code == 200
        r = self.client.put("/_emulator/state", json=state)
        assert r.status_code == 200, r.json

    @invariant()
    def emulator_matches_model(self) -> None:
        state = self.client.get("/_emulator/state").json["merchants"]
        live = {m: body for m, body in state.items() if body["events"] or body["leads"]}
        assert sorted(live) == sorted(m for m, body in self.model.items() if body.events)
        for m, body in live.items():
            model = self.model[m]
            got_events = [
                [e["type"], e["lead_id"], e["anonymous_id"], e["event"]] for e in body["events"]
            ]
            assert got_events == model.events
            assert [e["seq"] for e in body["events"]] == list(range(1, len(model.events) + 1))
            got = {lead["id"]: lead for lead in body["leads"]}
            assert sorted(got) == sorted(model.leads)
            for lead_id, want in model.leads.items():
                lead = got[lead_id]
                assert lead["attributes"] == want.attributes
                assert lead["audiences"] == want.audiences
                assert lead["anonymous_ids"] == want.anonymous_ids
                assert [(h["key"], h["value"]) for h in lead["audience_history"]] == want.history
                assert lead["event_count"] == sum(1 for e in model.events if e[1] == lead_id)


# Inherits the loaded profile (dev or ci) for max_examples.
EmulatorMachine.TestCase.settings = settings(stateful_step_count=25)
test_emulator_against_model = EmulatorMachine.TestCase
