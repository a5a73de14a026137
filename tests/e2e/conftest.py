"""E2e fixtures: one headless Debian chromium, one page server and one emulator per module; the
container image, built once per session for every test that runs it."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import Served, require_tool, start_served
from tests.e2e.image import Podman, build

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

PAGES = Path(__file__).parent / "pages"
# No outside network here: keep Chromium from phoning home, and never let it fetch components.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietPages(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Return Debian's chromium; skip without it, or fail under EMULATOR_REQUIRE_E2E=1."""
    return require_tool("chromium", "browser tests drive Debian's chromium through Playwright")


@pytest.fixture(scope="module")
def playwright(chromium_path: str) -> Iterator[Playwright]:
    """Run one Playwright driver for the module (the e2e extra installs it)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "Playwright for Python is not installed (pip install -e '.[e2e]')"
        if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(message + "; EMULATOR_REQUIRE_E2E=1 makes this a failure")
        pytest.skip(message)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def launch(chromium_path: str, playwright: Playwright) -> Iterator[Any]:
    """Return a launcher of headless chromium with extra args; close them all at the end."""
    launched: list[Browser] = []

    def factory(*extra_args: str) -> Browser:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=[*CHROMIUM_ARGS, *extra_args]
        )
        launched.append(browser)
        return browser

    yield factory
    for browser in launched:
        browser.close()


@pytest.fixture(scope="module")
def browser(launch: Any) -> Browser:
    """Share one browser across the module's tests."""
    return launch()  # type: ignore[no-any-return]


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """Give each test its own profile: fresh localStorage and cookies."""
    ctx = browser.new_context()
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    """Serve tests/e2e/pages on its own port, a different origin from the emulator."""
    handler = functools.partial(_QuietPages, directory=str(PAGES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Served]:
    """Serve one open-mode emulator for the module; tests keep apart by merchant id."""
    served = start_served()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    """Return the podman runner, once podman and runc are installed."""
    require_tool("podman", "the container tests build and run the image with podman")
    require_tool("runc", "podman runs the image with the runc runtime")
    return Podman(tmp_path_factory.mktemp("podman") / "containers.conf")


@pytest.fixture(scope="session")
def image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the image once for the session (the slow part, about a minute) and remove it after."""
    tag = build(podman, tmp_path_factory.mktemp("build"))
    yield tag
    podman("rmi", "--force", tag, check=False)
