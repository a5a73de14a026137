"""The pytest plugin and EmulatorClient, exercised the way a user's test suite meets them."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

import emulator.server  # noqa: F401  (see create_app() below)
from emulator import create_app
from emulator.testing import EmulatorAPIError, EmulatorClient, EmulatorUnreachable
from tests.conftest import LEAN_PLUGINS as LEAN

pytest_plugins = ["pytester"]

# pytester's inline runs unload modules first imported inside them; building an app here
# imports every module the app uses, so inner and outer sessions share one set of classes.
create_app()

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo.json"

# A helper the inner test files share: send tracker calls the way connect.js does.
SEND = """
import requests

def send(url, kind, merchant="m1", **body):
    body = {"merchant_id": merchant, "write_key": "k1", "anonymous_id": "visitor-1", **body}
    response = requests.post(f"{url}/tracker/v1/{kind}", json=body, timeout=5)
    assert response.status_code == 200, response.text
"""


def send(url: str, kind: str, merchant: str = "m1", **body: Any) -> dict[str, Any]:
    """Send one tracker call and return its JSON answer."""
    body = {"merchant_id": merchant, "write_key": "k1", "anonymous_id": "visitor-1", **body}
    response = requests.post(f"{url}/tracker/v1/{kind}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def later(seconds: float, fn: Any, *args: Any, **kwargs: Any) -> threading.Thread:
    """Call fn after a delay in a thread, as an app under test would, a little late."""
    thread = threading.Timer(seconds, fn, args, kwargs)
    thread.start()
    return thread


@pytest.fixture(autouse=True)
def in_process_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a WISHPOND_EMULATOR_* setting of the outer shell out of the inner test runs."""
    for name in ("WISHPOND_EMULATOR_URL", "WISHPOND_EMULATOR_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def documented_example() -> str:
    """Return the complete example test from docs/testing.md."""
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- example-test -->\n```python\n(.*?)\n```", text, re.S)
    assert match, "docs/testing.md lost its <!-- example-test --> python block"
    return match.group(1)


# -- the fixture, run inside a user's suite ----------------------------------------------------


def test_fixture_serves_in_process_once_per_session_and_resets_each_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(SEND)
    pytester.makepyfile(
        """
        from conftest import send
        urls = []

        def test_first(wishpond_emulator):
            urls.append(wishpond_emulator.url)
            send(wishpond_emulator.url, "identify", id="u1", attributes={"plan": "Pro"})
            wishpond_emulator.merchant("m1").assert_lead("u1", plan="Pro")

        def test_second_starts_empty_on_the_same_server(wishpond_emulator):
            assert wishpond_emulator.url == urls[0]
            assert wishpond_emulator.url.startswith("http://127.0.0.1:")
            assert wishpond_emulator.merchants() == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_documented_example_passes_in_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=documented_example())
    pytester.runpytest().assert_outcomes(passed=4)


def test_settings_fixture_configures_the_in_process_server(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from emulator.settings import Settings

        @pytest.fixture(scope="session")
        def wishpond_emulator_settings():
            return Settings(merchants={"shop": "right-key"})
        """
    )
    pytester.makepyfile(
        """
        import requests

        def test_strict(wishpond_emulator):
            body = {"merchant_id": "shop", "write_key": "wrong", "anonymous_id": "v", "id": "u",
                    "attributes": {}}
            answer = requests.post(wishpond_emulator.url + "/tracker/v1/identify", json=body)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "invalid_write_key"
            assert [m["id"] for m in wishpond_emulator.merchants()] == ["shop"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_plugin_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--wishpond-url*", "*WISHPOND_EMULATOR_URL*"])


def run_failing(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    """Run one inner test expected to fail and return the result."""
    pytester.makeconftest(SEND)
    pytester.makepyfile("from conftest import send\n\n" + body)
    result = pytester.runpytest("--wishpond-timeout", "0.2")
    result.assert_outcomes(failed=1)
    return result


def test_assert_lead_shows_the_attribute_that_differs(pytester: pytest.Pytester) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    send(wishpond_emulator.url, "identify", id="u1", attributes={"plan": "Startup", "seats": 3})
    wishpond_emulator.merchant("m1").assert_lead("u1", plan="Pro", seats=3, coupon="X")
""",
    )
    result.stdout.fnmatch_lines(
        [
            "*lead 'u1' of merchant 'm1' exists, but its attributes differ*",
            "*plan: expected 'Pro', got 'Startup'*",
            "*coupon: expected 'X', but it is not set*",
        ]
    )
    result.stdout.no_fnmatch_line("*seats: expected*")


def test_assert_lead_names_similar_ids_matching_leads_and_other_merchants(
    pytester: pytest.Pytester,
) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    url = wishpond_emulator.url
    send(url, "identify", id="user-1", attributes={"email": "jane@example.com"})
    send(url, "identify", id="user-17", anonymous_id="v2", attributes={"email": "omar@example.com"})
    send(url, "identify", merchant="m2", id="user-7", attributes={})
    wishpond_emulator.merchant("m1").assert_lead("user-7", email="omar@example.com")
""",
    )
    result.stdout.fnmatch_lines(
        [
            "*merchant 'm1' has no lead 'user-7' with email='omar@example.com'*Nearest matches:*",
            "*lead 'user-17' has a similar id*",
            "*lead 'user-17' has email='omar@example.com'*",
            "*merchant 'm2' has a lead 'user-7': is the merchant id right?*",
        ]
    )


def test_assert_lead_on_an_empty_merchant_says_where_the_data_is(
    pytester: pytest.Pytester,
) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    send(wishpond_emulator.url, "identify", merchant="shop-a", id="u1", attributes={})
    wishpond_emulator.merchant("shop-b").assert_lead("u1")
""",
    )
    result.stdout.fnmatch_lines(
        ["*merchant 'shop-b' has no leads at all; merchants with data: 'shop-a' (1 events)*"]
    )


def test_assert_lead_explains_an_unidentified_visitor(pytester: pytest.Pytester) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    send(wishpond_emulator.url, "page", anonymous_id="anon-5")
    wishpond_emulator.merchant("m1").assert_lead("anon-5")
""",
    )
    result.stdout.fnmatch_lines(
        ["*'anon-5' is an anonymous visitor id that no identify has linked to a lead yet*"]
    )


def test_assert_event_lists_same_title_similar_title_and_other_leads(
    pytester: pytest.Pytester,
) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    url = wishpond_emulator.url
    send(url, "identify", id="u1", attributes={})
    send(url, "track", event="Signed Up", properties={"plan": "Startup"})
    send(url, "track", event="Signed up", properties={"plan": "Pro"})
    send(url, "track", id="u2", anonymous_id="v2", event="Signed Up", properties={"plan": "Pro"})
    send(url, "track", anonymous_id="v3", event="Signed Up", properties={"plan": "Pro"})
    wishpond_emulator.merchant("m1").assert_event("u1", "Signed Up", plan="Pro")
""",
    )
    result.stdout.fnmatch_lines(
        [
            "*lead 'u1' of merchant 'm1' has no track event 'Signed Up' with plan='Pro'*",
            "*seq 2 track 'Signed Up' with properties {'plan': 'Startup'}: same title, "
            "but plan: expected 'Pro', got 'Startup'*",
            "*seq 3 track 'Signed up' with properties {'plan': 'Pro'}: similar title*",
            "*seq 4 track 'Signed Up'*on another lead, 'u2'*",
            "*seq 5 track 'Signed Up'*from anonymous visitor 'v3', not linked to any lead yet*",
        ]
    )


def test_assert_event_for_a_missing_lead_says_so(pytester: pytest.Pytester) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    send(wishpond_emulator.url, "identify", id="order-99", attributes={})
    wishpond_emulator.merchant("m1").assert_event("order-9", "Order Completed")
""",
    )
    result.stdout.fnmatch_lines(["*there is no lead 'order-9': lead 'order-99' has a similar id*"])


def test_assertion_traceback_points_at_the_users_line(pytester: pytest.Pytester) -> None:
    result = run_failing(
        pytester,
        """
def test_it(wishpond_emulator):
    wishpond_emulator.merchant("m1").assert_lead("nobody")
""",
    )
    result.stdout.fnmatch_lines(['>*wishpond_emulator.merchant("m1").assert_lead("nobody")'])
    result.stdout.no_fnmatch_line("*def assert_lead*")


# -- pointing the fixture at a running emulator --------------------------------------------------

REMOTE_TEST = """
from conftest import send

def test_against_the_served_emulator(wishpond_emulator):
    send(wishpond_emulator.url, "identify", id="remote-1", attributes={"plan": "Pro"})
    wishpond_emulator.merchant("m1").assert_lead("remote-1", plan="Pro")
"""


def test_wishpond_url_option_uses_the_running_server(pytester: pytest.Pytester, serve: Any) -> None:
    served = serve()
    pytester.makeconftest(SEND)
    pytester.makepyfile(REMOTE_TEST)
    pytester.runpytest("--wishpond-url", served.url).assert_outcomes(passed=1)
    # The lead landed in the served process, not in an in-process server.
    EmulatorClient(served.url).merchant("m1").assert_lead("remote-1", plan="Pro")


def test_env_url_and_admin_token_reach_a_protected_server(
    pytester: pytest.Pytester, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = serve("--admin-token", "s3cret")
    pytester.makeconftest(SEND)
    pytester.makepyfile(REMOTE_TEST)
    monkeypatch.setenv("WISHPOND_EMULATOR_URL", served.url)
    monkeypatch.setenv("WISHPOND_EMULATOR_ADMIN_TOKEN", "s3cret")
    pytester.runpytest().assert_outcomes(passed=1)
    EmulatorClient(served.url, admin_token="s3cret").merchant("m1").assert_lead("remote-1")

    monkeypatch.delenv("WISHPOND_EMULATOR_ADMIN_TOKEN")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*EmulatorAPIError: GET /_emulator/health -> 401 admin_token_required*"
            "*set WISHPOND_EMULATOR_ADMIN_TOKEN*"
        ]
    )


def test_unreachable_url_fails_with_a_hint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = EmulatorClient(f"http://127.0.0.1:{port}")
    with pytest.raises(EmulatorUnreachable, match="WISHPOND_EMULATOR_URL"):
        closed.merchants()


# -- the client against the in-process server ----------------------------------------------------


def test_errors_carry_the_emulators_json_error(wishpond_emulator: EmulatorClient) -> None:
    with pytest.raises(EmulatorAPIError) as caught:
        wishpond_emulator.merchant("m1").lead("missing")
    assert caught.value.status == 404
    assert caught.value.code == "lead_not_found"
    assert caught.value.body["error"]["code"] == "lead_not_found"
    assert "missing" in str(caught.value)
    with pytest.raises(EmulatorAPIError, match="400 invalid_parameter: type must be one of"):
        wishpond_emulator.merchant("m1").events(type="click")


def test_leads_and_events_filters(wishpond_emulator: EmulatorClient) -> None:
    wishpond_emulator.load(DEMO)
    acme = wishpond_emulator.merchant("acme-shop")
    assert [x["id"] for x in acme.leads(email="JANE.KIM@example.com")] == ["1e810c197e"]
    assert [x["id"] for x in acme.leads(attributes={"plan": "Pro"})] == ["7f3a9c2b10"]
    assert [x["id"] for x in acme.leads(audiences={"trial_users": False})] == ["7f3a9c2b10"]
    assert [e["event"] for e in acme.events(type="track", lead_id="7f3a9c2b10")] == [
        "Order Completed"
    ]
    assert acme.lead("1e810c197e")["attributes"]["email"] == "jane.kim@example.com"


def test_load_dict_state_and_merchant_reset(wishpond_emulator: EmulatorClient) -> None:
    document = {"merchants": {"m1": {"leads": [{"id": "u1", "attributes": {"a": 1}}]}}}
    wishpond_emulator.load(document)
    wishpond_emulator.load({"merchants": {"m2": {"leads": [{"id": "u2"}]}}}, merge=True)
    state = wishpond_emulator.state()
    assert sorted(state["merchants"]) == ["m1", "m2"]
    assert state["merchants"]["m1"]["leads"][0]["attributes"] == {"a": 1}
    wishpond_emulator.merchant("m1").reset()
    assert [m["id"] for m in wishpond_emulator.merchants()] == ["m2"]


def test_assertions_wait_for_late_data(wishpond_emulator: EmulatorClient) -> None:
    url = wishpond_emulator.url
    view = wishpond_emulator.merchant("m1")
    later(0.3, send, url, "identify", id="u1", attributes={"plan": "Pro"})
    assert view.assert_lead("u1", plan="Pro")["id"] == "u1"
    later(0.3, send, url, "identify", id="u1", attributes={"plan": "Team"})
    assert view.assert_lead("u1", plan="Team")["attributes"]["plan"] == "Team"
    later(0.3, send, url, "track", event="Signed Up", properties={"plan": "Team"})
    assert view.assert_event("u1", "Signed Up", plan="Team")["seq"] == 3


def test_wait_for_events_uses_one_long_poll(
    wishpond_emulator: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    original = EmulatorClient.request

    def spy(self: EmulatorClient, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        calls.append({"path": path, **kwargs})
        return original(self, method, path, *args, **kwargs)

    monkeypatch.setattr(EmulatorClient, "request", spy)
    later(0.3, send, wishpond_emulator.url, "track", event="Viewed", properties={})
    later(0.5, send, wishpond_emulator.url, "track", event="Viewed", properties={})
    found = wishpond_emulator.merchant("m1").wait_for_events(count=2, timeout=10, event="Viewed")
    assert [e["seq"] for e in found] == [1, 2]
    assert len(calls) == 1
    assert calls[0]["query"]["min_count"] == 2
    assert float(calls[0]["query"]["wait"]) > 9


def test_wait_for_events_times_out_with_what_it_found(wishpond_emulator: EmulatorClient) -> None:
    send(wishpond_emulator.url, "track", event="Viewed", properties={"n": 1})
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"expected 2 event\(s\) matching event='Viewed'"):
        wishpond_emulator.merchant("m1").wait_for_events(count=2, timeout=0.3, event="Viewed")
    assert time.monotonic() - started >= 0.3


def test_sync_audience_emits_engage_identifies(wishpond_emulator: EmulatorClient) -> None:
    view = wishpond_emulator.merchant("m1")
    view.sync_audience("power_users", ["u1", "u2"], name="Power Users")
    view.assert_lead("u1", power_users=True)
    answer = view.sync_audience("power_users", ["u2", "u3"])
    assert answer["joined"] == ["u3"] and answer["left"] == ["u1"]
    view.assert_lead("u1", power_users=False)
    assert [x["id"] for x in view.leads(audiences={"power_users": True})] == ["u2", "u3"]


def test_drops_are_never_silent_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import base64, requests

        AUTH = {"Authorization": "Basic " + base64.b64encode(b"m1:").decode()}

        def post(url, batch):
            r = requests.post(url + "/v1/batch", json={"batch": batch}, headers=AUTH, timeout=5)
            assert r.status_code == 200, r.text

        def test_the_assertion_lists_each_drop(wishpond_emulator):
            view = wishpond_emulator.merchant("m1")
            view.assert_nothing_dropped()
            post(wishpond_emulator.url, [
                {"type": "track", "userId": "u", "event": "Ok"},
                {"type": "track", "userId": "u", "messageId": "m-7"},
            ])
            [entry] = view.dropped()
            assert [d["index"] for d in entry["drops"]] == [1]
            assert wishpond_emulator.merchant("other").dropped() == []
            view.assert_nothing_dropped()

        def test_a_failing_test_reports_its_drops(wishpond_emulator):
            post(wishpond_emulator.url, [{"type": "identify", "traits": {"plan": "pro"}}])
            assert False, "the app's own assertion"

        def test_a_failing_test_without_drops_reports_none(wishpond_emulator):
            assert False, "nothing was sent"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert "Merchant 'm1': 1 call(s) dropped or rejected messages:" in out
    assert (
        "POST /v1/batch -> 200 for merchant 'm1': message 1 (type='track', userId='u', "
        "messageId='m-7'): "
        "event is required." in out
    )
    # The report sections: the two tests that dropped messages, not the third.
    assert out.count("wishpond-emulator drops") == 2
    assert "message 0 (type='identify'): Send userId or anonymousId" in out


def test_against_a_shared_server_a_report_shows_only_the_tests_own_drops(
    pytester: pytest.Pytester, serve: Any
) -> None:
    served = serve()

    def drop(merchant: str, event: str) -> None:
        message = {"type": "track", "anonymousId": "a", "event": event, "properties": 5}
        r = requests.post(f"{served.url}/v1/t", json=message, auth=(merchant, ""), timeout=5)
        assert r.status_code == 200 and r.headers["Wishpond-Emulator-Dropped"] == "1"

    drop("earlier", "before the run")  # in the shared journal before the tests start
    pytester.makepyfile(
        """
        import requests

        def send(url, merchant, label):
            message = {"type": "track", "anonymousId": "a", "event": label, "properties": 5}
            requests.post(url + "/v1/t", json=message, auth=(merchant, ""), timeout=5)

        def test_own_merchant(wishpond_merchant):
            send(wishpond_merchant.url, "bystander", "another test's")
            send(wishpond_merchant.url, wishpond_merchant.id, "this test's")
            assert False

        def test_whole_emulator(wishpond_emulator):
            send(wishpond_emulator.url, "bystander", "sent during the test")
            assert False
        """
    )
    result = pytester.runpytest("--wishpond-url", served.url, *LEAN)
    result.assert_outcomes(failed=2)
    own, whole = re.findall(
        r"-+ wishpond-emulator drops -+\n(.*?)\n(?:=|_)", result.stdout.str(), re.S
    )
    # wishpond_merchant: its own merchant's drops only, none of another test's.
    assert "this test's" in own and "another test's" not in own and "bystander" not in own
    # wishpond_emulator on a shared server: what the test's calls dropped, nothing from before.
    assert "for merchant 'bystander'" in whole and "sent during the test" in whole
    assert "this test's" not in whole and "another test's" not in whole
    assert "before the run" not in own + whole
