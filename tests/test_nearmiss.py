"""The near-miss explainer is pure: facts in, an explanation out, no emulator needed."""

from __future__ import annotations

from emulator.nearmiss import Facts, describe_event_miss, describe_lead_miss, differences, matches


def _lead(lead_id: str, **attributes: object) -> dict[str, object]:
    return {"id": lead_id, "attributes": attributes}


def test_matches_keeps_booleans_apart_from_numbers() -> None:
    assert matches({"a": 1, "b": "x"}, {"a": 1})
    assert not matches({"a": 1}, {"a": True})
    assert not matches({"a": True}, {"a": 1})
    assert differences({"a": 1}, {"a": 2, "b": 3}) == [
        "a: expected 2, got 1",
        "b: expected 3, but it is not set",
    ]


def test_a_missing_lead_is_explained_from_the_facts_alone() -> None:
    facts = Facts(
        "m1",
        [_lead("u-1", email="a@x.com"), _lead("other", email="a@x.com")],
        unlinked_visitor=True,
        elsewhere=["m2"],
    )
    text = describe_lead_miss("m1", "u1", {"email": "a@x.com"}, None, 1.5, facts)
    assert text.startswith("merchant 'm1' has no lead 'u1' with email='a@x.com' (waited 1.5s)")
    assert "lead 'u-1' has a similar id" in text
    assert "lead 'other' has email='a@x.com'" in text
    assert "'u1' is an anonymous visitor id that no identify has linked" in text
    assert "merchant 'm2' has a lead 'u1': is the merchant id right?" in text


def test_an_empty_merchant_names_where_the_data_is() -> None:
    facts = Facts("m1", [], busy=[("m2", 4)])
    text = describe_lead_miss("m1", "u1", {}, None, 1, facts)
    assert "merchant 'm1' has no leads at all; merchants with data: 'm2' (4 events)" in text
    alone = describe_lead_miss("m1", "u1", {}, None, 1, Facts("m1", []))
    assert "the emulator holds no data" in alone
    # A shared server holds many merchants, one per test: name a few, count the rest.
    many = Facts("m1", [], busy=[(f"t{n}", 1) for n in range(40)])
    text = describe_lead_miss("m1", "u1", {}, None, 1, many)
    assert text.endswith("merchants with data: 't0' (1 events), 't1' (1 events), 't2' (1 events), "
                         "'t3' (1 events), 't4' (1 events), 35 more")  # fmt: skip


def test_an_existing_lead_lists_the_attributes_that_differ() -> None:
    lead = _lead("u1", plan="free")
    text = describe_lead_miss("m1", "u1", {"plan": "pro"}, lead, 2, None)
    assert (
        "exists, but its attributes differ" in text and "plan: expected 'pro', got 'free'" in text
    )


def test_event_miss_lists_same_title_similar_title_and_other_leads() -> None:
    def ev(seq: int, title: str, lead_id: str | None, **props: object) -> dict[str, object]:
        return {
            "seq": seq,
            "type": "track",
            "event": title,
            "properties": props,
            "lead_id": lead_id,
            "anonymous_id": "a1",
        }

    found = [ev(1, "Signed Up", "u1", plan="free"), ev(2, "signed up", "u1", plan="pro")]
    titled = [
        *found[:1],
        ev(3, "Signed Up", "u2", plan="pro"),
        ev(4, "Signed Up", None, plan="pro"),
    ]
    text = describe_event_miss("m1", "u1", "Signed Up", {"plan": "pro"}, found, titled, 1, None)
    assert "seq 1 track 'Signed Up' with properties {'plan': 'free'}: same title" in text
    assert "seq 2 track 'signed up' with properties {'plan': 'pro'}: similar title" in text
    assert "on another lead, 'u2'" in text
    assert "from anonymous visitor 'a1', not linked to any lead yet" in text


def test_event_miss_for_a_missing_lead_says_there_is_none() -> None:
    text = describe_event_miss("m1", "u1", "X", {}, [], [], 1, Facts("m1", [_lead("u2")]))
    assert "there is no lead 'u1'" in text and "merchant 'm1' has 1 lead(s): 'u2'" in text
