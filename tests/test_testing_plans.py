"""The pytest plugin's tracking plan coverage over a whole sample suite, as its users run it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from emulator import create_app
from tests.conftest import LEAN_PLUGINS as LEAN
from tests.test_plans import SEED, track_rule

pytest_plugins = ["pytester"]
create_app()  # import every module the app uses before pytester's inline runs (see test_testing)

PLAN = {
    "name": "Sample",
    "rules": [*SEED["rules"], track_rule("Order Completed", {"order_id": {"type": "string"}}, [])],
}
SUITE = """
import requests

def send(url, kind, merchant="m1", **body):
    body = {"merchant_id": merchant, "write_key": "k1", "anonymous_id": "v1", **body}
    answer = requests.post(f"{url}/tracker/v1/{kind}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text

def test_identify_conforms(wishpond_emulator):
    send(wishpond_emulator.url, "identify", id="u1", attributes={"name": "J", "email": "j@x"})
    wishpond_emulator.merchant("m1").assert_no_violations()

def test_signed_up_without_source(wishpond_emulator):
    send(wishpond_emulator.url, "track", event="Signed Up", properties={"plan": "Pro"})

def test_signed_up_without_source_again(wishpond_emulator):
    send(wishpond_emulator.url, "track", event="Signed Up", properties={"plan": "Startup"})

def test_an_unplanned_event(wishpond_emulator):
    send(wishpond_emulator.url, "track", event="Clicked Banner")

def test_a_merchant_of_its_own_through_segment(wishpond_merchant):
    properties = {"plan": "Pro", "source": "Ads", "seats": "2"}
    message = {"userId": "u9", "event": "Signed Up", "properties": properties}
    answer = requests.post(wishpond_merchant.url + "/v1/track", json=message,
                           auth=(wishpond_merchant.write_key, ""), timeout=5)
    assert answer.status_code == 200
"""
TERMINAL = [
    "*= wishpond-emulator tracking plan coverage =*",
    "tracking plan 'Sample' over 2 merchants (*m1*): 2 of 3 planned events seen",
    "  never seen: 'Order Completed'",
    "  unplanned: 'Clicked Banner'",
    "  violations (4):",
    "    'Clicked Banner': unplanned_event event x1",
    "    'Signed Up': missing_property properties.source x2",
    "    'Signed Up': wrong_type properties.seats x1",
]


@pytest.fixture
def sample(pytester: pytest.Pytester) -> Path:
    """Write the sample suite and its plan; return the plan's path."""
    pytester.makepyfile(test_sample=SUITE)
    path = pytester.path / "plan.json"
    path.write_text(json.dumps(PLAN), encoding="utf-8")
    return path


def cases(path: Path) -> dict[str, Any]:
    """Return the JUnit file's test cases by name: None when passed, else the failure text."""
    root = ET.parse(path).getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "tracking plan 'Sample'"
    found = {}
    for case in suite.findall("testcase"):
        failure = case.find("failure")
        found[case.get("name")] = None if failure is None else failure.text
    assert suite.get("tests") == str(len(found))
    assert suite.get("failures") == str(sum(v is not None for v in found.values()))
    return found


def test_the_session_reports_coverage_over_every_test_and_writes_junit(
    pytester: pytest.Pytester, sample: Path
) -> None:
    junit = pytester.path / "out" / "plan.xml"
    result = pytester.runpytest(
        "--wishpond-tracking-plan", str(sample), "--wishpond-plan-report", str(junit), *LEAN
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(TERMINAL, consecutive=True)
    found = cases(junit)
    planned = {k: v for k, v in found.items() if k.startswith("planned: ")}
    assert planned.keys() == {"planned: identify", "planned: Signed Up", "planned: Order Completed"}
    assert [k for k, v in planned.items() if v is not None] == ["planned: Order Completed"]
    failing = {k: v for k, v in found.items() if k.startswith("violations: ") and v is not None}
    assert failing == {
        "violations: unplanned_event": "'Clicked Banner': unplanned_event event x1",
        "violations: missing_property": "'Signed Up': missing_property properties.source x2",
        "violations: wrong_type": "'Signed Up': wrong_type properties.seats x1",
    }
    assert len(found) == 3 + 8  # every planned event and every violation kind


def test_pytest_xdist_workers_hand_their_coverage_to_the_controller(
    pytester: pytest.Pytester, sample: Path
) -> None:
    junit = pytester.path / "plan.xml"
    result = pytester.runpytest(
        "-n",
        "2",
        "--wishpond-tracking-plan",
        str(sample),
        "--wishpond-plan-report",
        str(junit),
        *LEAN,
    )
    result.assert_outcomes(passed=5)
    # Each worker has its own in-process emulator; the merged report counts both.
    result.stdout.fnmatch_lines(
        [*TERMINAL[:1], "tracking plan 'Sample' over * merchants*", *TERMINAL[2:]]
    )
    assert cases(junit)["planned: Order Completed"] is not None


def test_the_settings_fixture_gives_the_plan_and_assert_no_violations_lists_them(
    pytester: pytest.Pytester, sample: Path
) -> None:
    pytester.makeconftest(
        f"""
        import pytest
        from emulator.settings import Settings

        @pytest.fixture(scope="session")
        def wishpond_emulator_settings():
            return Settings(tracking_plans=({str(sample)!r},))
        """
    )
    pytester.makepyfile(
        test_strict="""
        from test_sample import send

        def test_no_violations(wishpond_emulator):
            send(wishpond_emulator.url, "track", id="u1", event="Signed Up", properties={"plan": 1})
            wishpond_emulator.merchant("m1").assert_no_violations()
        """
    )
    result = pytester.runpytest("test_strict.py", *LEAN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Merchant 'm1': 3 violation(s) of tracking plan 'Sample' since its last reset:",
            "*'Signed Up': missing_property properties.source x1",
            "*'Signed Up': wrong_type properties.plan x1",
            "*'Signed Up': wrong_value properties.plan x1",
            "*in these events:",
            "*seq 1 track 'Signed Up' (lead 'u1'): wrong_type properties.plan: 1 is not of type*",
        ]
    )


def test_without_a_plan_assert_no_violations_says_nothing_was_checked(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_it(wishpond_merchant):
            wishpond_merchant.assert_no_violations()
        """
    )
    result = pytester.runpytest(*LEAN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*has no tracking plan, so nothing was checked*"])
    assert "tracking plan coverage" not in result.stdout.str()


def test_a_plan_option_for_a_server_not_the_plugins_is_refused(
    pytester: pytest.Pytester, sample: Path
) -> None:
    result = pytester.runpytest(
        "--wishpond-url", "http://127.0.0.1:9", "--wishpond-tracking-plan", str(sample), *LEAN
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wishpond-tracking-plan configures the in-process emulator*"])


def test_against_a_shared_server_the_sessions_own_merchants_are_reported(
    pytester: pytest.Pytester, serve: Any, sample: Path
) -> None:
    served = serve("--tracking-plan", str(sample))
    pytester.makepyfile(
        test_shared="""
        import requests

        def test_it(wishpond_merchant):
            body = {"userId": "u1", "event": "Signed Up", "properties": {"plan": "Pro"}}
            requests.post(wishpond_merchant.url + "/v1/track", json=body,
                          auth=(wishpond_merchant.write_key, ""), timeout=5)
        """
    )
    # Another merchant's calls on the same server are not this session's.
    requests_body = {"merchant_id": "other", "write_key": "k", "id": "x", "event": "Elsewhere"}
    import requests

    assert requests.post(served.url + "/tracker/v1/track", json=requests_body, timeout=5).ok
    result = pytester.runpytest("test_shared.py", "--wishpond-url", served.url, *LEAN)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "tracking plan 'Sample' over merchant 'test_it-*': 1 of 3 planned events seen",
            "  never seen: 'identify', 'Order Completed'",
            "  violations (1):",
            "    'Signed Up': missing_property properties.source x1",
        ],
        consecutive=True,
    )
