"""Computed audiences on the clock, against a model that computes membership directly.

A RuleBasedStateMachine tracks, identifies, defines audiences, advances the clock and syncs;
the model keeps every event's time (as the emulator reported it) and evaluates each rule
itself at each sync's time. Durations are whole minutes, so real time passing during a run
(well under a minute) never makes a sync fall due on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from emulator import create_app
from emulator.clock import MINUTE, parse_time

M = "/_emulator/merchants/m1"
LEADS = st.sampled_from(["ann", "bob", "cy"])
ANONS = st.sampled_from(["v1", "v2", "v3"])
TITLES = st.sampled_from(["Order Completed", "Signed Up"])
KEYS = st.sampled_from(["buyers", "pros", "regulars"])
# Minutes, spread over the scales that matter: windows, cadences and the moves between syncs.
WITHIN = st.sampled_from([20, 90, 360, 1440, 4320]) | st.integers(min_value=1, max_value=4320)
FIRST = st.sampled_from([1, 60, 360]) | st.integers(min_value=1, max_value=720)
EVERY = st.sampled_from([30, 180, 720]) | st.integers(min_value=30, max_value=720)
MOVES = st.sampled_from([0, 1, 30, 60, 180, 360, 1440]) | st.integers(min_value=0, max_value=4320)
EVENT_RULES = st.fixed_dictionaries(
    {"event": TITLES, "within": WITHIN.map(lambda m: f"{m}m")},
    optional={
        "min_count": st.integers(min_value=1, max_value=3),
        "where": st.sampled_from([{"size": "L"}, {"size": "M"}]),
    },
)
TRAIT_RULES = st.fixed_dictionaries(
    {"trait": st.just("plan"), "equals": st.sampled_from(["pro", "free"])}
)
# The emulator answers each Hypothesis example from an app of its own.
EXAMPLES = min(settings().max_examples, 60)


def ms(iso: str) -> int:
    found = parse_time(iso)
    assert found is not None, iso
    return found


@dataclass
class Audience:
    rule: dict[str, Any]
    every: int
    next_ms: int
    synced: bool = False
    members: list[str] = field(default_factory=list)

    def holds(self, model: Model, lead: str, at: int) -> bool:
        if "trait" in self.rule:
            attrs = model.leads[lead]
            return "plan" in attrs and attrs["plan"] == self.rule["equals"]
        within = int(self.rule["within"][:-1]) * MINUTE
        where = self.rule.get("where", {})
        count = sum(
            1
            for owner, title, props, when in model.events
            if owner == lead
            and title == self.rule["event"]
            and all(props.get(k) == v for k, v in where.items())
            and at - within < when <= at
        )
        return count >= self.rule.get("min_count", 1)


@dataclass
class Model:
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)  # in the order made
    visitors: dict[str, str | None] = field(default_factory=dict)
    events: list[list[Any]] = field(default_factory=list)  # [lead or None, title, props, ms]
    anon_of: list[str | None] = field(default_factory=list)  # each event's visitor
    audiences: dict[str, Audience] = field(default_factory=dict)
    values: dict[tuple[str, str], bool] = field(default_factory=dict)  # as of the last sync

    def link(self, anon: str, lead: str) -> None:
        if self.visitors.get(anon) is None:  # first link: the visitor's history joins the lead
            for ev, owner in zip(self.events, self.anon_of, strict=True):
                if owner == anon and ev[0] is None:
                    ev[0] = lead
        self.visitors[anon] = lead

    def sync(self, key: str, at: int) -> tuple[list[str], list[str]]:
        audience = self.audiences[key]
        now = [lead for lead in self.leads if audience.holds(self, lead, at)]
        if audience.synced:
            entered = [x for x in now if x not in audience.members]
            exited = sorted(set(audience.members) - set(now))
        else:
            entered, exited = now, []
        for lead, value in [(x, True) for x in entered] + [(x, False) for x in exited]:
            self.values[(lead, key)] = value
            self.leads[lead]["id"] = lead
        audience.members, audience.synced = now, True
        return entered, exited


class ComputedAudiences(RuleBasedStateMachine):
    """Drive the emulator over HTTP; the model evaluates every rule itself."""

    def __init__(self) -> None:
        super().__init__()
        self.client = create_app().test_client()
        self.model = Model()

    def send(
        self, method: str, path: str, body: Any = None, status: int | tuple[int, ...] = 200
    ) -> Any:
        r = self.client.open(path, method=method, json=body)
        assert r.status_code in (status if isinstance(status, tuple) else (status,)), r.json
        return r.json

    @rule(lead=LEADS, anon=st.none() | ANONS, plan=st.sampled_from(["pro", "free", None]))
    def identify(self, lead: str, anon: str | None, plan: str | None) -> None:
        body: dict[str, Any] = {"merchant_id": "m1", "write_key": "k", "id": lead}
        body["attributes"] = {"plan": plan} if plan is not None else {}
        if anon is not None:
            body["anonymous_id"] = anon
        self.send("POST", "/tracker/v1/identify", body)
        self.model.leads.setdefault(lead, {}).update(body["attributes"])
        if anon is not None:
            self.model.link(anon, lead)

    @rule(
        who=st.tuples(st.none() | LEADS, st.none() | ANONS).filter(lambda w: w != (None, None)),
        title=TITLES,
        size=st.sampled_from(["L", "M", None]),
    )
    def track(self, who: tuple[str | None, str | None], title: str, size: str | None) -> None:
        lead, anon = who
        props = {"size": size} if size is not None else {}
        body: dict[str, Any] = {"merchant_id": "m1", "write_key": "k", "event": title}
        body.update({"properties": props, "id": lead, "anonymous_id": anon})
        event = self.send("POST", "/tracker/v1/track", {k: v for k, v in body.items() if v})
        model = self.model
        if lead is not None:
            model.leads.setdefault(lead, {})
            if anon is not None:
                model.link(anon, lead)
        owner = lead if lead is not None else model.visitors.get(anon) if anon else None
        model.events.append([owner, title, props, ms(event["event"]["received_at"])])
        model.anon_of.append(anon)
        assert event["event"]["lead_id"] == owner

    @initialize(
        audiences=st.lists(
            st.tuples(KEYS, EVENT_RULES | TRAIT_RULES, FIRST, EVERY),
            min_size=1,
            max_size=3,
            unique_by=lambda a: a[0],
        )
    )
    def start(self, audiences: list[Any]) -> None:
        for audience in audiences:
            self.define(*audience)

    @rule(key=KEYS, rule_=EVENT_RULES | TRAIT_RULES, first=FIRST, every=EVERY)
    def define(self, key: str, rule_: dict[str, Any], first: int, every: int) -> None:
        before = ms(self.send("GET", "/_emulator/clock")["now"])
        body = {"rule": rule_, "first_sync_after": f"{first}m", "sync_every": f"{every}m"}
        answer = self.send("PUT", f"{M}/computed-audiences/{key}", body, status=(200, 201))
        previous = self.model.audiences.get(key)
        wait = every if previous is not None and previous.synced else first
        next_ms = ms(answer["next_sync_at"])
        assert 0 <= next_ms - before - wait * MINUTE < MINUTE
        audience = Audience(rule_, every * MINUTE, next_ms)
        if previous is not None and previous.synced:
            audience.synced, audience.members = True, previous.members
        assert answer["members"] == audience.members
        self.model.audiences[key] = audience

    @rule(lead=LEADS, size=st.sampled_from(["L", "M"]))
    def order(self, lead: str, size: str) -> None:
        self.track((lead, None), "Order Completed", size)  # the most common event, on a lead

    @rule(minutes=MOVES)
    def advance(self, minutes: int) -> None:
        answer = self.send("POST", "/_emulator/clock", {"advance": f"{minutes}m"})
        target, expected = ms(answer["now"]), []
        while True:
            due = [(a.next_ms, k) for k, a in self.model.audiences.items() if a.next_ms <= target]
            if not due:
                break
            at, key = min(due)
            expected.append((key, at, *self.model.sync(key, at)))
            self.model.audiences[key].next_ms += self.model.audiences[key].every
        got = [(s["key"], ms(s["at"]), s["entered"], s["exited"]) for s in answer["syncs"]]
        assert got == expected

    @rule(key=KEYS)
    def sync_now(self, key: str) -> None:
        path = f"{M}/computed-audiences/{key}/sync"
        if key not in self.model.audiences:
            self.send("POST", path, status=404)
            return
        answer = self.send("POST", path)
        entered, exited = self.model.sync(key, ms(answer["at"]))
        assert (answer["entered"], answer["exited"]) == (entered, exited)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        path = f"{M}/computed-audiences/{key}"
        self.send("DELETE", path, status=200 if self.model.audiences.pop(key, None) else 404)

    @invariant()
    def membership_is_the_models_as_of_the_last_sync(self) -> None:
        leads = self.send("GET", f"{M}/leads")["leads"]
        assert [lead["id"] for lead in leads] == list(self.model.leads)
        keys = {key for _, key in self.model.values}
        for lead in leads:
            for key in keys:
                assert lead["audiences"].get(key) == self.model.values.get((lead["id"], key))
        listed = self.send("GET", f"{M}/computed-audiences")["computed_audiences"]
        assert {a["key"]: (a["members"], ms(a["next_sync_at"])) for a in listed} == {
            k: (a.members, a.next_ms) for k, a in self.model.audiences.items()
        }


ComputedAudiences.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=40, deadline=None
)
test_computed_audiences_match_the_model = ComputedAudiences.TestCase


def _run(advances: list[int], audiences: list[Any], events: list[Any]) -> list[Any]:
    """Define, track on a spread of times, then advance in the given steps; return the syncs."""
    client = create_app().test_client()
    base = {}
    for key, rule_, first, every in sorted(audiences, key=lambda a: a[0]):
        body = {"rule": rule_, "first_sync_after": f"{first}m", "sync_every": f"{every}m"}
        r = client.put(f"{M}/computed-audiences/{key}", json=body)
        assert r.status_code in (200, 201), r.json
        base[key] = ms(r.json["next_sync_at"])
    # Off the minute grid: no event ever lies exactly on a window's edge or a sync's time.
    client.post("/_emulator/clock", json={"advance": "30s"})
    for gap, lead, title in events:
        client.post("/_emulator/clock", json={"advance": f"{gap}m"})
        track = {"merchant_id": "m1", "write_key": "k", "id": lead, "event": title}
        assert client.post("/tracker/v1/track", json=track).status_code == 200
    syncs = []
    for minutes in advances:
        r = client.post("/_emulator/clock", json={"advance": f"{minutes}m"})
        assert r.status_code == 200, r.json
        syncs += r.json["syncs"]
    return [(s["key"], ms(s["at"]) - base[s["key"]], s["entered"], s["exited"]) for s in syncs]


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    advances=st.lists(MOVES, min_size=1, max_size=6),
    audiences=st.lists(
        st.tuples(KEYS, EVENT_RULES, st.just(0) | FIRST, EVERY),
        min_size=1,
        max_size=3,
        unique_by=lambda a: a[0],
    ),
    events=st.lists(
        st.tuples(st.sampled_from([0, 30, 180, 720]) | MOVES, LEADS, TITLES), max_size=8
    ),
)
def test_any_sequence_of_advances_runs_the_syncs_of_one_advance_of_their_sum(
    advances: list[int], audiences: list[Any], events: list[Any]
) -> None:
    assert _run(advances, audiences, events) == _run([sum(advances)], audiences, events)
