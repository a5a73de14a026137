"""GET /connect.js over Flask's test client: headers, caching, packaging."""

from __future__ import annotations

from importlib.resources import files

from flask.testing import FlaskClient

PACKAGED = (files("emulator") / "static" / "connect.js").read_bytes()


def test_serves_the_packaged_script_as_javascript(client: FlaskClient) -> None:
    r = client.get("/connect.js")
    assert r.status_code == 200
    assert r.data == PACKAGED
    assert r.mimetype == "text/javascript"
    assert r.mimetype_params.get("charset") == "utf-8"
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_script_stays_small_and_self_contained() -> None:
    text = PACKAGED.decode("utf-8")
    assert len(PACKAGED) < 16 * 1024, f"connect.js is {len(PACKAGED)} bytes; keep it small"
    assert "import " not in text and "require(" not in text  # no modules, no build step


def test_keys_in_the_query_string_get_the_same_script(client: FlaskClient) -> None:
    r = client.get("/connect.js?merchantId=12345&writeKey=0a1b2c3d4e5f")
    assert r.status_code == 200 and r.data == PACKAGED


def test_revalidation_answers_304(client: FlaskClient) -> None:
    etag = client.get("/connect.js").headers["ETag"]
    r = client.get("/connect.js", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.data == b""


def test_head_sends_headers_only(client: FlaskClient) -> None:
    r = client.head("/connect.js")
    assert r.status_code == 200 and r.data == b""
    assert int(r.headers["Content-Length"]) == len(PACKAGED)


def test_other_methods_get_a_json_405(client: FlaskClient) -> None:
    r = client.post("/connect.js", data="{}")
    assert r.status_code == 405
    assert r.json is not None and r.json["error"]["code"] == "method_not_allowed"


def test_script_loads_are_not_journaled(client: FlaskClient) -> None:
    client.get("/connect.js")
    assert client.get("/_emulator/requests").json["requests"] == []
