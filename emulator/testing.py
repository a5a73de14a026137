"""The pytest plugin (fixture wishpond_emulator) and EmulatorClient, for integration tests."""

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
from emulator.merchant import describe_drops, dropped_calls

__all__ = ["EmulatorAPIError", "EmulatorClient", "EmulatorUnreachable", "MerchantView"]


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
    if url:
        EmulatorClient(url, _token(request.config)).wait_ready()
        yield url.rstrip("/")
        return
    with _in_process(wishpond_emulator_settings, _token(request.config)) as served:
        yield served


@pytest.fixture
def wishpond_emulator(request: pytest.FixtureRequest, wishpond_emulator_url: str) -> EmulatorClient:
    """Return an EmulatorClient for the session's emulator, reset for this test."""
    client = EmulatorClient(
        wishpond_emulator_url,
        _token(request.config),
        timeout=request.config.getoption("wishpond_timeout"),
    )
    client.reset()
    watch_drops(request, client, after_reset=True)
    return client


# The client and journal id after which a test's drops are, for its failure report.
_DROPS_SINCE = pytest.StashKey[tuple[EmulatorClient, int]]()
DROPS_SECTION = "wishpond-emulator drops"


def watch_drops(request: pytest.FixtureRequest, client: EmulatorClient, after_reset: bool) -> None:
    """Have a failure of this test report the calls it made that dropped messages."""
    start = 0
    if not after_reset:  # a shared journal: start after what is already in it
        start = max((e["id"] for e in dropped_calls(client)), default=0)
    request.node.stash[_DROPS_SINCE] = (client, start)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Add the drops a failed test's calls made to its report, as a section of its own."""
    outcome: Any = yield
    report = outcome.get_result()
    watched = item.stash.get(_DROPS_SINCE, None)
    if report.when != "call" or not report.failed or watched is None:
        return
    client, start = watched
    try:
        entries = dropped_calls(client, after_id=start)
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
        app.extensions["wishpond_emulator"].store.close()
        server.drain()
