"""Hostile pages in Chromium: a cross-site reset attempt, and a DNS-rebinding page."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import Served

try:
    from playwright.sync_api import Route
except ImportError:
    if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
        raise
    pytest.skip("Playwright for Python is not installed", allow_module_level=True)

pytestmark = pytest.mark.e2e

# Names a hostile page is served under; Chromium resolves both to this machine.
ATTACKER, REBIND = "attacker.test", "rebind.test"
RESOLVE = f"--host-resolver-rules=MAP {ATTACKER} 127.0.0.1, MAP {REBIND} 127.0.0.1"
# Newer Chromium asks before a page it counts as public reaches a loopback address; other
# browsers and older ones do not, so the emulator must refuse by itself: test it without.
NO_LOCAL_NETWORK_PROMPT = "--disable-features=LocalNetworkAccessChecks"

# What a page on another site tries: the requests a browser sends without asking (a no-cors
# fetch, a form post) and one it preflights.
ATTACKS = """async (emulator) => {
  const out = [];
  const tries = [
    ['/_emulator/reset', { method: 'POST', mode: 'no-cors' }],
    ['/_emulator/state', { method: 'POST', mode: 'no-cors', body: '{"merchants": {}}' }],
    ['/_emulator/merchants/m1', { method: 'DELETE' }], // preflighted: never sent
  ];
  for (const [path, init] of tries) {
    try {
      out.push((await fetch(emulator + path, init)).type);
    } catch (e) {
      out.push(e.name);
    }
  }
  const frame = document.createElement('iframe');
  frame.name = 'sink';
  document.body.append(frame);
  const form = Object.assign(document.createElement('form'), {
    method: 'POST', action: emulator + '/_emulator/reset', target: 'sink' });
  document.body.append(form);
  const landed = new Promise((resolve) => frame.addEventListener('load', resolve));
  form.submit();
  await landed;
  return out;
}"""


def state(url: str) -> Any:
    return requests.get(f"{url}/_emulator/state", timeout=5).json()


@pytest.fixture(scope="module")
def resolving(launch: Any) -> Any:
    """A chromium that resolves the attacker's names to 127.0.0.1."""
    return launch(RESOLVE, NO_LOCAL_NETWORK_PROMPT)


def test_a_page_on_another_site_cannot_reset_the_emulator(
    resolving: Any, pages: str, serve: Callable[..., Served]
) -> None:
    srv = serve()
    requests.post(
        f"{srv.url}/tracker/v1/identify",
        json={"merchant_id": "m1", "write_key": "k", "id": "keep-me"},
        timeout=5,
    )
    before = state(srv.url)
    seen: list[tuple[str, str, int]] = []
    context = resolving.new_context()
    try:
        page = context.new_page()
        page.on(
            "response",
            lambda r: (
                seen.append((r.request.method, urlsplit(r.url).path, r.status))
                if "/_emulator/" in r.url
                else None
            ),
        )
        port = urlsplit(pages).port
        # Same site (another port of 127.0.0.1), then another site altogether.
        for origin in (pages, f"http://{ATTACKER}:{port}"):
            page.goto(origin + "/plain.html")
            page.evaluate(ATTACKS, srv.url)
            assert state(srv.url) == before, f"a page at {origin} changed the state"
        sent = [(m, p, status) for m, p, status in seen if m != "OPTIONS"]
        # Per origin: the no-cors reset, the no-cors state post and the form's reset.
        assert (
            sorted(sent)
            == [("POST", "/_emulator/reset", 403)] * 4 + [("POST", "/_emulator/state", 403)] * 2
        ), seen

        # The dashboard's own origin may change state, so the refusal is the origin's doing.
        page.goto(srv.url + "/")
        status = page.evaluate(
            "async () => (await fetch('/_emulator/reset', {method: 'POST'})).status"
        )
        assert status == 200 and state(srv.url)["merchants"] == {}
    finally:
        context.close()


REBINDING_PAGE = """<!doctype html><title>rebinding</title><script>
window.loot = Promise.all(['/_emulator/state', '/_emulator/merchants/m1/leads', '/']
  .map((p) => fetch(p).then(async (r) => [p, r.status, await r.text()])));
</script>"""


def test_a_rebinding_page_reads_nothing(resolving: Any, serve: Callable[..., Served]) -> None:
    srv = serve()
    requests.post(
        f"{srv.url}/tracker/v1/identify",
        json={"merchant_id": "m1", "write_key": "k", "id": "secret-lead"},
        timeout=5,
    )
    port = urlsplit(srv.url).port
    origin = f"http://{REBIND}:{port}"
    context = resolving.new_context()
    try:
        page = context.new_page()

        # The attacker served this page from rebind.test:<port>; now the name points here, so
        # the page's own origin is the emulator's port.
        def attacker(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html", body=REBINDING_PAGE)

        page.route(origin + "/attack.html", attacker)
        page.goto(origin + "/attack.html")
        loot = page.evaluate("window.loot")
        assert [(path, status) for path, status, _ in loot] == [
            ("/_emulator/state", 403),
            ("/_emulator/merchants/m1/leads", 403),
            ("/", 403),
        ]
        assert all('"host_not_allowed"' in body for _, _, body in loot)
        assert not any("secret-lead" in body for _, _, body in loot)
        # The browser surfaces still answer under any name, as cdn.wishpond.net mappings need.
        script = page.evaluate(f"fetch('{origin}/connect.js').then((r) => r.status)")
        assert script == 200
    finally:
        context.close()
