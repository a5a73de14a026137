"""The pytest plugin (fixtures wishpond_emulator, wishpond_merchant) for integration tests."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.client import (
    DEFAULT_TIMEOUT,
    TOKEN_ENV,
    URL_ENV,
    EmulatorAPIError,
    EmulatorClient,
    EmulatorUnreachable,
    MerchantView,
)
from emulator.isolation import IsolatedMerchant, merchant_id_for, strict_refusal
from emulator.merchant import describe_drops, dropped_calls
from emulator.plancoverage import NAME as COVERAGE
from emulator.plancoverage import PlanCoverage

__all__ = [
    "EmulatorAPIError",
    "EmulatorClient",
    "EmulatorUnreachable",
    "IsolatedMerchant",
    "MerchantView",
]

# Whether this session's emulator is the in-process one, which the plugin may wipe at will.
_OWNED = pytest.StashKey[bool]()
# The mode ("open" or "strict") of this session's emulator, read once.
_MODE = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the --wishpond-* options."""
    group = parser.getgroup("wishpond-emulator")
    group.addoption(
        "--wishpond-url",
        default=None,
        help=f"use the emulator running at this URL instead of an in-process one [env {URL_ENV}]",
    )
    group.addoption(
        "--wishpond-admin-token",
        default=None,
        help=f"bearer token for the emulator's admin API [env {TOKEN_ENV}]",
    )
    group.addoption(
        "--wishpond-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds the assertions wait for data (default {DEFAULT_TIMEOUT:g})",
    )
    group.addoption(
        "--wishpond-tracking-plan",
        action="append",
        default=[],
        metavar="FILE",
        help="a tracking plan for the in-process emulator: FILE for every merchant, "
        "MERCHANT=FILE for one; repeatable",
    )
    group.addoption(
        "--wishpond-plan-report",
        default=None,
        metavar="PATH",
        help="write the session's tracking plan coverage to PATH as JUnit XML",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Watch the session's tracking plan coverage; refuse a plan for a server not ours."""
    if config.getoption("wishpond_tracking_plan") and (
        config.getoption("wishpond_url") or os.environ.get(URL_ENV)
    ):
        raise pytest.UsageError(
            "--wishpond-tracking-plan configures the in-process emulator, but --wishpond-url "
            f"(or {URL_ENV}) names a running one: start that emulator with --tracking-plan "
            "FILE (WISHPOND_EMULATOR_TRACKING_PLAN), or give tests their plan with "
            "wishpond_merchant.set_tracking_plan(FILE)."
        )
    config.pluginmanager.register(PlanCoverage(config), COVERAGE)


def _coverage(config: pytest.Config) -> PlanCoverage:
    plugin = config.pluginmanager.get_plugin(COVERAGE)
    assert isinstance(plugin, PlanCoverage)
    return plugin


@pytest.fixture(scope="session")
def wishpond_emulator_settings() -> Any:
    """Return the Settings of the in-process emulator; override to configure merchants."""
    from emulator.settings import Settings

    return Settings()


@pytest.fixture(scope="session")
def wishpond_emulator_url(
    request: pytest.FixtureRequest, wishpond_emulator_settings: Any
) -> Iterator[str]:
    """Return the URL of the emulator under test, starting one in-process if none is given."""
    url = request.config.getoption("wishpond_url") or os.environ.get(URL_ENV)
    request.config.stash[_OWNED] = not url
    if url:
        client = EmulatorClient(url, _token(request.config))
        client.wait_ready()
        yield url.rstrip("/")
        _coverage(request.config).gather(client, owned=False)
        return
    settings = wishpond_emulator_settings
    plans = tuple(request.config.getoption("wishpond_tracking_plan"))
    if plans:
        from dataclasses import replace

        settings = replace(settings, tracking_plans=(*settings.tracking_plans, *plans))
    token = settings.admin_token or _token(request.config)
    with _in_process(settings, token) as served:
        yield served
        _coverage(request.config).gather(EmulatorClient(served, token), owned=True)


@pytest.fixture
def wishpond_emulator(request: pytest.FixtureRequest, wishpond_emulator_url: str) -> EmulatorClient:
    """Return an EmulatorClient for the session's emulator; reset for this test if in-process.

    A shared server (--wishpond-url) is never reset by the fixture: other test runs and
    pytest-xdist workers use it at the same time. Tests there use wishpond_merchant.
    """
    client = EmulatorClient(
        wishpond_emulator_url,
        _token(request.config),
        timeout=request.config.getoption("wishpond_timeout"),
    )
    owned = request.config.stash.get(_OWNED, False)
    if owned:
        client.reset()
    watch_drops(request, client, after_reset=owned)
    return client


@pytest.fixture
def wishpond_merchant(
    request: pytest.FixtureRequest, wishpond_emulator: EmulatorClient
) -> IsolatedMerchant:
    """Return a merchant of this test's own, reset before the test; no other merchant is touched."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    merchant = IsolatedMerchant(wishpond_emulator, merchant_id_for(request.node.nodeid, worker))
    if _mode(request.config, wishpond_emulator) == "strict":
        configured = [m["id"] for m in wishpond_emulator.merchants() if m.get("configured")]
        pytest.fail(strict_refusal(wishpond_emulator.url, merchant.id, configured), pytrace=False)
    merchant.reset()
    _coverage(request.config).merchants.add(merchant.id)
    if not request.config.stash.get(_OWNED, False):
        # A shared server: report this merchant's drops only. Its reset forgot its journal
        # entries, so what the journal holds for it from now on is this test's.
        watch_drops(request, wishpond_emulator, after_reset=True, merchant_id=merchant.id)
    return merchant


def _mode(config: pytest.Config, client: EmulatorClient) -> str:
    if _MODE not in config.stash:
        config.stash[_MODE] = str(client.health().get("mode", "open"))
    return config.stash[_MODE]


# The client, journal id and merchant (None: any) of a test's drops, for its failure report.
_DROPS_SINCE = pytest.StashKey[tuple[EmulatorClient, int, "str | None"]]()
DROPS_SECTION = "wishpond-emulator drops"


def watch_drops(
    request: pytest.FixtureRequest,
    client: EmulatorClient,
    after_reset: bool,
    merchant_id: str | None = None,
) -> None:
    """Have a failure of this test report the calls it made that dropped messages.

    after_reset: the journal (of merchant_id, or all of it) holds only this test's calls;
    otherwise the report starts after what it holds now.
    """
    start = 0
    if not after_reset:
        start = max((e["id"] for e in dropped_calls(client, 0, merchant_id)), default=0)
    request.node.stash[_DROPS_SINCE] = (client, start, merchant_id)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Add the drops a failed test's calls made to its report, as a section of its own."""
    outcome: Any = yield
    report = outcome.get_result()
    watched = item.stash.get(_DROPS_SINCE, None)
    if report.when != "call" or not report.failed or watched is None:
        return
    client, start, merchant_id = watched
    try:
        entries = dropped_calls(client, start, merchant_id)
    except (EmulatorAPIError, EmulatorUnreachable):
        return  # the emulator is gone or refuses: the failure itself is what matters
    if entries:
        report.sections.append((DROPS_SECTION, describe_drops(entries)))


def _token(config: pytest.Config) -> str | None:
    return config.getoption("wishpond_admin_token") or os.environ.get(TOKEN_ENV) or None


@contextlib.contextmanager
def _in_process(settings: Any, admin_token: str | None) -> Iterator[str]:
    """Run the production server in a background thread on a free loopback port."""
    from dataclasses import replace

    from emulator import create_app
    from emulator.server import Server

    token = settings.admin_token or admin_token
    settings = replace(settings, host="127.0.0.1", port=0, admin_token=token)
    app = create_app(settings)
    server = Server(app, settings)
    stop = threading.Event()
    thread = threading.Thread(
        target=server.run_until, args=(stop,), name="wishpond-emulator", daemon=True
    )
    thread.start()
    try:
        yield server.url
    finally:
        stop.set()
        server.wake()
        thread.join(timeout=5)
        app.extensions["wishpond_emulator"].close()
        server.drain()
