"""emulator.plans and emulator.planschema: plans read and refused, calls checked, kinds named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import contract
from emulator import plans
from emulator.errors import EmulatorError
from emulator.planbook import PlanBook, Tally, load_file, report

ROOT = Path(__file__).resolve().parent.parent
D7 = "http://json-schema.org/draft-07/schema#"


def track_rule(key: str, properties: dict[str, Any], required: list[str], **extra: Any) -> Any:
    """Return a TRACK rule as Segment's Public API lists it."""
    inner = {"type": "object", "properties": properties, "required": required, **extra}
    schema = {"$schema": D7, "type": "object", "properties": {"context": {}, "properties": inner}}
    return {"type": "TRACK", "key": key, "version": 1, "jsonSchema": schema}


# The seed's calls: identify with name and email, track "Signed Up" with plan and source.
SEED: dict[str, Any] = {
    "name": "Seed",
    "rules": [
        {
            "type": "IDENTIFY",
            "version": 1,
            "jsonSchema": {
                "$schema": D7,
                "type": "object",
                "properties": {
                    "traits": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
                        "required": ["name", "email"],
                    }
                },
            },
        },
        track_rule(
            "Signed Up",
            {
                "plan": {"type": "string", "enum": ["Startup", "Pro"]},
                "source": {"type": "string", "pattern": "^[A-Z]", "maxLength": 40},
                "seats": {"type": "integer", "minimum": 1},
            },
            ["plan", "source"],
            additionalProperties=False,
        ),
    ],
}
SIGNED_UP = {"type": "track", "event": "Signed Up", "properties": {"plan": "Pro", "source": "Ads"}}
IDENTIFY = {"type": "identify", "userId": "u1", "traits": {"name": "Jane Kim", "email": "j@x.io"}}


def seed(**settings: Any) -> plans.Plan:
    document = copy.deepcopy(SEED)
    if settings:
        document["settings"] = settings
    return plans.parse(document)


def with_properties(**properties: Any) -> dict[str, Any]:
    return {**SIGNED_UP, "properties": {"plan": "Pro", "source": "Ads", **properties}}


def test_the_seed_plan_accepts_the_seed_calls() -> None:
    plan = seed()
    assert plan.check(SIGNED_UP) == ()
    assert plan.check(IDENTIFY) == ()
    assert plan.planned == (("identify", "identify"), ("track", "Signed Up"))
    assert plan.document["name"] == "Seed" and plan.document["settings"] == {"block": []}


@pytest.mark.parametrize(
    ("message", "kind", "field"),
    [
        ({**SIGNED_UP, "event": "Signed In"}, "unplanned_event", "event"),
        ({**SIGNED_UP, "properties": {"plan": "Pro"}}, "missing_property", "properties.source"),
        (IDENTIFY | {"traits": {"name": "Jane"}}, "missing_property", "traits.email"),
        (with_properties(seats="2"), "wrong_type", "properties.seats"),
        (with_properties(coupon="X"), "unplanned_property", "properties.coupon"),
        (with_properties(plan="Gold"), "wrong_value", "properties.plan"),
        (with_properties(source="ads"), "wrong_format", "properties.source"),
        (with_properties(seats=0), "out_of_range", "properties.seats"),
        (with_properties(source="A" * 41), "out_of_range", "properties.source"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_kind_comes_from_one_call_with_its_field(
    message: dict[str, Any], kind: str, field: str
) -> None:
    (violation,) = seed().check(message)
    assert (violation["kind"], violation["field"]) == (kind, field)
    assert violation["message"]
    assert kind in plans.KINDS


def test_every_extra_property_is_its_own_violation() -> None:
    found = seed().check(with_properties(a=1, b=2))
    assert [(v["kind"], v["field"]) for v in found] == [
        ("unplanned_property", "properties.a"),
        ("unplanned_property", "properties.b"),
    ]


def test_other_keywords_are_a_schema_mismatch_and_any_of_keeps_the_inner_kind() -> None:
    plan = plans.parse(
        {
            "rules": [
                track_rule("A", {"x": {"not": {"type": "string"}}}, []),
                track_rule("B", {"x": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, []),
            ]
        }
    )
    (mismatch,) = plan.check({"type": "track", "event": "A", "properties": {"x": "s"}})
    assert (mismatch["kind"], mismatch["field"]) == ("schema_mismatch", "properties.x")
    (typed,) = plan.check({"type": "track", "event": "B", "properties": {"x": 1}})
    assert (typed["kind"], typed["field"]) == ("wrong_type", "properties.x")


def test_formats_are_checked_the_same_on_every_install() -> None:
    plan = plans.parse(
        {"rules": [track_rule("A", {"at": {"type": "string", "format": "date-time"}}, [])]}
    )
    good = {"type": "track", "event": "A", "properties": {"at": "2026-01-15T10:02:00.000Z"}}
    assert plan.check(good) == ()
    for bad in ("2026-02-30T10:00:00Z", "yesterday", "2026-01-15 10:02"):
        (v,) = plan.check({**good, "properties": {"at": bad}})
        assert v["kind"] == "wrong_format", bad


def test_a_message_picks_its_event_version_else_version_1_else_the_latest() -> None:
    v1 = track_rule("A", {"x": {"type": "string"}}, ["x"])
    v2 = {**track_rule("A", {"y": {"type": "string"}}, ["y"]), "version": 2}
    plan = plans.parse({"rules": [v1, v2]})
    msg = {"type": "track", "event": "A", "properties": {"x": "1"}}
    assert plan.check(msg) == ()
    versioned = {**msg, "context": {"protocols": {"event_version": 2}}}
    assert [v["field"] for v in plan.check(versioned)] == ["properties.y"]
    only_two = plans.parse({"rules": [v2]})
    assert [v["field"] for v in only_two.check(msg)] == ["properties.y"]


def test_the_common_rule_applies_to_identify_and_track() -> None:
    common = {
        "type": "COMMON",
        "version": 1,
        "jsonSchema": {
            "properties": {"context": {"required": ["library"]}},
            "required": ["context"],
        },
    }
    plan = plans.parse({"rules": [*SEED["rules"], common]})
    for message in (SIGNED_UP, IDENTIFY):
        assert [(v["kind"], v["field"]) for v in plan.check(message)] == [
            ("missing_property", "context")
        ]
        assert plan.check({**message, "context": {"library": {"name": "x"}}}) == ()


def test_identify_without_an_identify_rule_is_not_unplanned() -> None:
    plan = plans.parse({"rules": [SEED["rules"][1]]})
    assert plan.check(IDENTIFY) == ()
    assert plan.planned == (("track", "Signed Up"),)


def test_the_public_api_answer_and_null_schemas_are_taken() -> None:
    listed = {"data": {"rules": [{**SEED["rules"][1], "createdAt": "2024-01-01T00:00:00Z"}]}}
    plan = plans.parse({**listed, "name": "From Segment"})
    assert plan.name == "From Segment" and plan.check(SIGNED_UP) == ()
    assert plan.document["rules"][0].keys() == {"type", "key", "version", "jsonSchema"}
    anything = plans.parse(
        {"rules": [{"type": "TRACK", "key": "A", "version": 1, "jsonSchema": None}]}
    )
    assert anything.check({"type": "track", "event": "A", "properties": {"x": 1}}) == ()


def test_block_names_the_kinds_it_keeps_out() -> None:
    plan = seed(block=["unplanned_event", "wrong_type"])
    assert plan.blocked(plan.check({**SIGNED_UP, "event": "Nope"})) == ["unplanned_event"]
    assert plan.blocked(plan.check(with_properties(plan="Gold"))) == []


@pytest.mark.parametrize(
    ("document", "field", "said"),
    [
        ({"rules": [{"type": "EVENT", "jsonSchema": {}}]}, "rules.0.type", "'EVENT' is not a rule"),
        ({"rules": [{"type": "TRACK", "jsonSchema": {}}]}, "rules.0.key", "TRACK rule needs"),
        ({"rules": [{"type": "TRACK", "key": "A"}]}, "rules.0.jsonSchema", "is required"),
        (
            {"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"type": "strin"}}]},
            "rules.0.jsonSchema.type",
            "rule 0 (TRACK 'A')",
        ),
        (
            {"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"$schema": "draft-99"}}]},
            "rules.0.jsonSchema.$schema",
            "names no JSON Schema draft",
        ),
        (
            {"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"$ref": "https://x/y"}}]},
            "rules.0.jsonSchema.$ref",
            "fetches nothing",
        ),
        (
            {"rules": [SEED["rules"][1], {**SEED["rules"][1]}]},
            "rules.1.version",
            "already rule 0",
        ),
        ({"rules": [{"type": "IDENTIFY", "version": 0, "jsonSchema": {}}]}, "rules.0.version", ""),
        ({"rules": [], "settings": {"block": ["typo"]}}, "settings.block.0", "'typo'"),
        ({"rules": {}}, "rules", "list"),
        ({"name": 3, "rules": []}, "name", "string"),
        ({"plan": []}, "rules", "data"),
        ([], "(plan)", "object"),
    ],
)
def test_a_plan_that_is_not_valid_is_refused_naming_rule_and_field(
    document: Any, field: str, said: str
) -> None:
    with pytest.raises(EmulatorError) as refused:
        plans.parse(document)
    assert refused.value.status == 400 and refused.value.code == "invalid_tracking_plan"
    assert refused.value.extra["field"] == field
    assert said in refused.value.message and field in refused.value.message


def test_tracker_calls_are_checked_as_the_segment_message_they_stand_for() -> None:
    body = {"merchant_id": "m", "write_key": "k", "id": "u1", "attributes": {"name": "J"}}
    assert plans.tracker_message("identify", body) == {
        "type": "identify",
        "userId": "u1",
        "traits": {"name": "J"},
    }
    track = {"merchant_id": "m", "anonymous_id": "a", "event": "Signed Up"}
    assert plans.tracker_message("track", track) == {
        "type": "track",
        "anonymousId": "a",
        "event": "Signed Up",
        "properties": {},
    }


def test_the_fixture_plan_covers_the_demo_state_and_its_events_conform() -> None:
    plan = load_file(str(ROOT / "fixtures" / "tracking-plan.json"))
    contract.validate(
        "tracking-plan", json.loads((ROOT / "fixtures" / "tracking-plan.json").read_text())
    )
    demo = json.loads((ROOT / "fixtures" / "demo.json").read_text())
    tally = Tally()
    for body in demo["merchants"].values():
        for event in body["events"]:
            if event["type"] == "page":
                continue
            message = (
                {"type": "track", "event": event["event"], "properties": event["properties"]}
                if event["type"] == "track"
                else {"type": "identify", "traits": event["attributes"]}
            )
            found = plan.check(message)
            assert found == (), (event, found)
            tally.add(plan, [(plan.label(message), found)])
    covered = report(plan, tally)
    assert covered["planned_unseen"] == [] and covered["unplanned_seen"] == []


def test_a_report_costs_the_plan_and_what_was_seen_not_the_events() -> None:
    plan = seed()
    tally = Tally()
    checked = [(plan.label(SIGNED_UP), ())] * 10_000 + [(("track", "Other"), ())]
    tally.add(plan, checked)
    assert tally.seen == {("track", "Signed Up"): 10_000, ("track", "Other"): 1}
    covered = report(plan, tally)
    assert covered["planned_seen"] == ["Signed Up"] and covered["unplanned_seen"] == ["Other"]


def test_the_book_forgets_since_reset_counts_but_keeps_plans_and_start_counts() -> None:
    book = PlanBook(every=seed())
    own = plans.parse({"name": "Own", "rules": []})
    book.put("m2", own)
    book.record("m1", seed(), [(("track", "Signed Up"), ())])
    book.clear()
    assert book.report("m1")["planned_seen"] == []  # type: ignore[index]
    assert book.report("m1", "start")["planned_seen"] == ["Signed Up"]  # type: ignore[index]
    assert book.scope("m2") == ("merchant", own) and book.scope("m1")[0] == "all"
    assert book.remove("m2") and book.scope("m2")[0] == "all"
