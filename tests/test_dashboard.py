"""The dashboard's routes over Flask's test client: page, assets, headers, no data, no CORS."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from emulator import create_app
from emulator.settings import Settings

STATIC = Path(__file__).resolve().parent.parent / "emulator" / "static"


class _Page(HTMLParser):
    """Collect the tags and attributes of the dashboard's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_text.append(data)


def _csp(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def _parse(client: FlaskClient) -> _Page:
    page = _Page()
    page.feed(client.get("/").get_data(as_text=True))
    return page


def test_index_is_html_with_strict_security_headers(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.mimetype == "text/html" and r.mimetype_params.get("charset") == "utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Disposition" not in r.headers
    csp = _csp(r.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    for values in csp.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(values)


def test_page_has_no_inline_code_and_only_local_assets(client: FlaskClient) -> None:
    page = _parse(client)
    assert page.script_text == [], "inline script would be blocked by the CSP"
    scripts = [a for t, a in page.tags if t == "script"]
    assert scripts and all(a.get("src", "").startswith("/_dashboard/") for a in scripts)
    for tag, attrs in page.tags:
        assert tag != "style", "inline <style> would be blocked by the CSP"
        assert "style" not in attrs, f"inline style on <{tag}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"inline handler {handlers} on <{tag}>"
        for name in ("src", "href"):
            url = attrs.get(name)
            if url is not None:
                assert url.startswith("/_dashboard/"), f"<{tag} {name}={url!r}> leaves the origin"


def test_every_referenced_asset_is_served_with_its_type(client: FlaskClient) -> None:
    page = _parse(client)
    urls = {a.get("src") or a.get("href") for t, a in page.tags if t in ("script", "link", "img")}
    expected = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    assert {Path(str(u)).suffix for u in urls} == set(expected)
    for url in urls:
        r = client.get(str(url))
        assert r.status_code == 200, url
        assert r.mimetype == expected[Path(str(url)).suffix]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in r.headers
        assert r.data == (STATIC / Path(str(url)).name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/_dashboard/connect.js",
        "/_dashboard/dashboard.html",
        "/_dashboard/nothing.js",
        "/_dashboard/..%2fhttp%2fdashboard.py",
        "/_dashboard/%2e%2e%2fsettings.py",
    ],
)
def test_only_the_dashboard_files_are_reachable(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.is_json and r.json is not None
    assert r.json["error"]["code"] == "not_found"


def test_conditional_get_revalidates(client: FlaskClient) -> None:
    first = client.get("/_dashboard/dashboard.js")
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get("/_dashboard/dashboard.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_other_methods_get_json_405(client: FlaskClient) -> None:
    r = client.post("/")
    assert r.status_code == 405 and r.is_json
    assert "GET" in r.headers["Allow"]


def test_page_holds_no_data(client: FlaskClient) -> None:
    client.post(
        "/tracker/v1/identify",
        json={
            "merchant_id": "shop-7",
            "write_key": "k",
            "id": "lead-zz-91",
            "attributes": {"email": "secret.person@example.com"},
        },
    )
    html = client.get("/").get_data(as_text=True)
    for value in ("shop-7", "lead-zz-91", "secret.person"):
        assert value not in html


def test_page_and_assets_need_no_token_but_the_data_does() -> None:
    client = create_app(Settings(admin_token="s3cret-token")).test_client()
    for path in ("/", "/_dashboard/dashboard.js", "/_dashboard/dashboard.css"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert b"s3cret-token" not in r.data
    assert client.get("/_emulator/merchants").status_code == 401
    ok = client.get("/_emulator/merchants", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200


def test_admin_api_stays_without_cors(client: FlaskClient) -> None:
    origin = {"Origin": "http://evil.example"}
    for r in (
        client.get("/", headers=origin),
        client.get("/_emulator/merchants", headers=origin),
        client.get("/_emulator/requests", headers=origin),
        client.options(
            "/_emulator/merchants",
            headers={**origin, "Access-Control-Request-Method": "GET"},
        ),
    ):
        assert not [k for k, _ in r.headers.items() if k.lower().startswith("access-control-")]


def test_dashboard_requests_stay_out_of_the_journal(client: FlaskClient) -> None:
    client.get("/")
    client.get("/_dashboard/dashboard.js")
    assert client.get("/_emulator/requests").json["requests"] == []


def _scripts(client: FlaskClient) -> dict[str, str]:
    """Fetch the page's entry script and every module it imports, as the browser would."""
    found: dict[str, str] = {}
    todo = ["dashboard.js"]
    while todo:
        name = todo.pop()
        r = client.get("/_dashboard/" + name)
        assert r.status_code == 200 and r.mimetype == "text/javascript", name
        found[name] = r.get_data(as_text=True)
        imported = re.findall(r"from '\./([\w.-]+)';$", found[name], re.M)
        todo += [n for n in imported if n not in found and n not in todo]
    return found


def test_script_builds_the_dom_without_html_parsing(client: FlaskClient) -> None:
    # A guard beside the browser test: these sinks would parse API data as HTML or code.
    scripts = _scripts(client)
    assert {p.name for p in STATIC.glob("dashboard*.js")} == set(scripts), "a script not loaded"
    sinks = r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|srcdoc"
    for name, source in scripts.items():
        assert re.findall(sinks, source) == [], name
