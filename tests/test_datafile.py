"""The data file in-process: every write kept across a restart, and every bad file refused whole."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import contract
from emulator import create_app, model
from emulator.cli import main
from emulator.datafile_read import read
from emulator.errors import EmulatorError
from emulator.settings import Settings

SEGMENT = {"Authorization": "Basic " + base64.b64encode(b"m1:").decode()}
TRACKER = {"merchant_id": "m1", "write_key": "k"}


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Open apps on data files; each open closes the app opened before, as a restart does."""
    apps: list[Flask] = []

    def open_app(name: str = "state.db", **settings: Any) -> Flask:
        close()
        app = create_app(Settings(data_file=str(tmp_path / name), **settings))
        apps.append(app)
        return app

    def close() -> None:
        while apps:
            apps.pop().extensions["wishpond_emulator"].store.close_data_file()

    yield open_app
    close()


def track(client: FlaskClient, event: str, **body: Any) -> Any:
    return client.post("/tracker/v1/track", json={**TRACKER, "event": event, **body})


def identify(client: FlaskClient, lead_id: str, **body: Any) -> Any:
    return client.post("/tracker/v1/identify", json={**TRACKER, "id": lead_id, **body})


def batch(client: FlaskClient, messages: list[Any]) -> Any:
    return client.post("/v1/batch", json={"batch": messages}, headers=SEGMENT)


def state(client: FlaskClient) -> Any:
    return client.get("/_emulator/state").json


def everything(client: FlaskClient) -> None:
    """Write through every surface: links, re-attribution, the window, Engage, the clock."""
    track(client, "Viewed", anonymous_id="a1", properties={"p": 1, "nested": {"x": [1, 2]}})
    client.post("/tracker/v1/page", json={**TRACKER, "anonymous_id": "a1", "properties": {}})
    identify(client, "u1", anonymous_id="a1", attributes={"email": "Jane@Example.com", "n": 1})
    track(client, "Paid", id="u1", properties={"amount": 9.5, "text": "café ☕"})
    identify(client, "u2", anonymous_id="a1", attributes={"plan": "pro"})  # a1 moves to u2
    messages = [
        {"type": "track", "userId": "u3", "event": "Signed Up", "messageId": "s1"},
        {"type": "identify", "anonymousId": "a2", "traits": {"k": None}, "messageId": "s2"},
        {"type": "screen", "userId": "u3", "name": "Home", "messageId": "s3"},
        {"type": "track", "userId": "u3", "event": "Late", "messageId": "s4",
         "timestamp": "2020-01-01T00:00:00.000Z", "sentAt": "2020-01-01T00:00:01.000Z"},
    ]  # fmt: skip
    assert batch(client, messages).status_code == 200
    sync = {"name": "VIPs", "members": ["u1"]}
    assert client.put("/_emulator/merchants/m1/audiences/vips", json=sync).status_code == 200
    rule = {"rule": {"event": "Paid", "within": "7d"}, "first_sync_after": "1h"}
    put = client.put("/_emulator/merchants/m1/computed-audiences/payers", json=rule)
    assert put.status_code == 200
    assert client.post("/_emulator/clock", json={"advance": "2h"}).status_code == 200
    identify(client, "x1", merchant_id="m2")
    track(client, "Gone", merchant_id="m2", id="x1")
    assert client.delete("/_emulator/merchants/m2").status_code == 200
    identify(client, "y1", merchant_id="m3")


def test_export_restart_export_is_identical(opened: Callable[..., Flask]) -> None:
    client = opened().test_client()
    everything(client)
    before = state(client)
    contract.validate("state", before)
    assert set(before["merchants"]) == {"m1", "m3"}
    assert before["merchants"]["m1"]["computed_audiences"][0]["members"] == ["u1"]
    assert before["clock"]["offset_seconds"] == 7200
    again = opened().test_client()
    assert state(again) == before
    health = again.get("/_emulator/health").json
    contract.validate("health", health)
    assert health["durable"]["sync"] == "normal" and health["durable"]["path"].endswith("state.db")
    # The restarted emulator goes on from where it was: seqs, links, syncs.
    track(again, "Again", anonymous_id="a1")
    count = len(before["merchants"]["m1"]["events"])
    [last] = again.get(f"/_emulator/merchants/m1/events?after_seq={count}").json["events"]
    assert (last["seq"], last["lead_id"]) == (count + 1, "u2")
    later = again.post("/_emulator/clock", json={"advance": "3h"}).json
    assert [s["key"] for s in later["syncs"]] == ["payers"]


def test_without_a_data_file_health_says_memory_only(client: FlaskClient) -> None:
    assert client.get("/_emulator/health").json["durable"] is None


def test_a_message_id_sent_before_a_restart_is_a_repeat_after_it(
    opened: Callable[..., Flask],
) -> None:
    client = opened().test_client()
    message = {"type": "track", "userId": "u1", "event": "Once", "messageId": "m-1"}
    assert batch(client, [message]).status_code == 200
    again = opened().test_client()
    assert batch(again, [message, {**message, "messageId": "m-2"}]).status_code == 200
    titles = [e["message_id"] for e in again.get("/_emulator/merchants/m1/events").json["events"]]
    assert titles == ["m-1", "m-2"]


def test_the_window_forgets_its_oldest_ids_in_the_file_too(
    opened: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(model, "MESSAGE_ID_WINDOW", 3)
    monkeypatch.setattr("emulator.snapshot.MESSAGE_ID_WINDOW", 3)
    client = opened().test_client()
    for i in range(5):
        message = {"type": "track", "userId": "u", "event": "E", "messageId": f"id-{i}"}
        assert batch(client, [message]).status_code == 200
    held = state(client)["merchants"]["m1"]["message_ids"]
    assert held == ["id-2", "id-3", "id-4"]
    again = opened()
    assert state(again.test_client())["merchants"]["m1"]["message_ids"] == held
    again.extensions["wishpond_emulator"].store.close_data_file()
    rows = sqlite3.connect(tmp_path / "state.db")  # the file holds the window, nothing older
    assert [r[0] for r in rows.execute("SELECT id FROM message_ids ORDER BY n")] == held
    rows.close()


def test_resets_deletes_and_imports_are_kept(opened: Callable[..., Flask]) -> None:
    client = opened().test_client()
    everything(client)
    assert client.post("/_emulator/reset").status_code == 200
    assert state(opened().test_client())["merchants"] == {}
    client = opened().test_client()
    doc = {"merchants": {"a": {"leads": [{"id": "l1"}]}, "b": {"leads": [{"id": "l2"}]}}}
    assert client.put("/_emulator/state", json=doc).status_code == 200
    merge = {"merchants": {"b": {"leads": [{"id": "l3"}]}, "c": {"events": [{"type": "page"}]}}}
    assert client.put("/_emulator/state?mode=merge", json=merge).status_code == 200
    merged = state(client)
    again = opened().test_client()
    assert state(again) == merged
    assert [x["id"] for x in merged["merchants"]["b"]["leads"]] == ["l3"]
    assert again.delete("/_emulator/merchants/a").status_code == 200
    assert set(state(opened().test_client())["merchants"]) == {"b", "c"}


def test_computed_audience_deletes_are_kept(opened: Callable[..., Flask]) -> None:
    client = opened().test_client()
    rule = {"rule": {"trait": "plan", "equals": "pro"}}
    for key in ("one", "two"):
        assert client.put(f"/_emulator/merchants/q/computed-audiences/{key}", json=rule).json
    assert client.delete("/_emulator/merchants/q/computed-audiences/one").status_code == 200
    kept = opened().test_client().get("/_emulator/merchants/q/computed-audiences").json
    assert [a["key"] for a in kept["computed_audiences"]] == ["two"]


def test_app_documents_survive_a_restart(opened: Callable[..., Flask]) -> None:
    store = opened().extensions["wishpond_emulator"].store
    store.put_document("plans", {"m1": {"rules": [1, 2]}})
    store.put_document("faults", [{"match": "x"}])
    store.put_document("faults", None)
    documents = opened().extensions["wishpond_emulator"].store.documents()
    assert documents["plans"] == {"m1": {"rules": [1, 2]}} and "faults" not in documents


def test_a_failed_commit_refuses_every_later_write_and_keeps_what_was_answered(
    opened: Callable[..., Flask],
) -> None:
    app = opened()
    client = app.test_client()
    assert identify(client, "kept").status_code == 200
    app.extensions["wishpond_emulator"].store._sink._conn.close()  # the disk goes away
    failed = identify(client, "lost")
    assert failed.status_code == 507 and failed.json["error"]["code"] == "data_file_failed"
    assert "could not be written" in failed.json["error"]["message"]
    refused = track(client, "Later", id="kept")
    assert refused.status_code == 507
    leads = opened().test_client().get("/_emulator/merchants/m1/leads").json["leads"]
    assert [x["id"] for x in leads] == ["kept"]


# -- refusals -------------------------------------------------------------------------------


def filled(path: Path) -> None:
    """Write a data file holding a few calls."""
    app = create_app(Settings(data_file=str(path)))
    client = app.test_client()
    identify(client, "u1", attributes={"email": "a@example.com"})
    track(client, "Paid", id="u1")
    app.extensions["wishpond_emulator"].store.close_data_file()


def sql(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def truncate(path: Path) -> None:
    sql(path, "CREATE TABLE filler (x)")
    sql(path, "INSERT INTO filler SELECT randomblob(3000) FROM (SELECT 1 UNION SELECT 2)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4096])


def scribble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for page in range(4096, len(data), 4096):  # every page's header but the first's
        data[page : page + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))


DAMAGE = {
    "not SQLite": (lambda p: p.write_text("{}\n"), "is not a SQLite database"),
    "truncated": (truncate, "is damaged"),
    "scribbled": (scribble, "is damaged"),
    "newer schema": (
        lambda p: sql(p, "UPDATE schema_version SET version = 2"),
        "written by a newer wishpond-emulator (data file schema 2; this one reads schema 1)",
    ),
    "another program's": (
        lambda p: (p.unlink(), sql(p, "CREATE TABLE notes (text)")),
        "not an emulator's data file",
    ),
    "not ours": (
        lambda p: sql(p, "DROP TABLE schema_version"),
        "not an emulator's data file",
    ),
    "row not JSON": (
        lambda p: sql(p, "UPDATE events SET body = '{\"type\": ' WHERE seq = 2"),
        "events row 2 of merchant 'm1' does not decode",
    ),
    "row not an object": (
        lambda p: sql(p, "UPDATE leads SET body = '[1]'"),
        "leads row 'u1' of merchant 'm1' is not a JSON object",
    ),
    "row not state": (
        lambda p: sql(p, 'UPDATE events SET body = \'{"type": "bogus"}\' WHERE seq = 1'),
        "holds state that does not load",
    ),
    "too deep": (
        lambda p: sql(p, 'UPDATE leads SET body = \'{"attributes": ' + "[" * 70 + "]" * 70 + "}'"),
        "nested too deeply",
    ),
    "seq gap": (
        lambda p: sql(p, "UPDATE events SET seq = 5 WHERE seq = 2"),
        "jump from seq 1 to 5",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_bad_file_is_refused_whole_naming_it_and_what_to_do(
    damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.db"
    if damage != "not SQLite":
        filled(path)
    spoil, fragment = DAMAGE[damage]
    spoil(path)
    before = path.read_bytes()
    with pytest.raises(EmulatorError) as refused:
        create_app(Settings(data_file=str(path)))
    assert fragment in refused.value.message and str(path) in refused.value.message
    assert refused.value.message.count("; ") >= 1  # what is wrong; what to do
    assert path.read_bytes() == before  # nothing written into it, nothing loaded from it
    assert main(["serve", "--port", "0", "--data-file", str(path)], {}) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"wishpond-emulator: --data-file {path} ") and fragment in line


def test_a_directory_and_a_bad_sync_mode_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="is a directory; name a file in it"):
        create_app(Settings(data_file=str(tmp_path)))
    with pytest.raises(EmulatorError, match="--data-sync must be normal or full"):
        Settings(data_file=str(tmp_path / "x.db"), data_sync="sometimes")
    with pytest.raises(EmulatorError, match="--import-mode says what --import does"):
        Settings(import_mode="merge")
    with pytest.raises(EmulatorError, match="--data-file is empty; name a file"):
        Settings(data_file=" ")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(EmulatorError, match=f"cannot be created: {blocker} is a file"):
        create_app(Settings(data_file=str(blocker / "state.db")))


def test_full_sync_is_reported_and_a_file_is_held_by_one_app(
    opened: Callable[..., Flask], tmp_path: Path
) -> None:
    app = opened(data_sync="full")
    assert app.test_client().get("/_emulator/health").json["durable"]["sync"] == "full"
    with pytest.raises(EmulatorError, match="is in use by another process"):
        create_app(Settings(data_file=str(tmp_path / "state.db")))


def test_rows_read_the_same_without_sqlites_json_functions(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    filled(path)
    conn = sqlite3.connect(path)
    try:
        assert read(conn.execute, has_json=True) == read(conn.execute, has_json=False)
    finally:
        conn.close()


def test_events_keep_their_tracking_plan_verdicts_across_a_restart(
    opened: Callable[..., Flask],
) -> None:
    plan = str(Path(__file__).resolve().parent.parent / "fixtures" / "tracking-plan.json")
    client = opened(tracking_plans=(plan,)).test_client()
    track(client, "Not In The Plan", id="u1", properties={"x": 1})
    before = state(client)
    [event] = before["merchants"]["m1"]["events"]
    assert event["violations"] and event["violations"][0]["kind"] == "unplanned_event"
    assert state(opened(tracking_plans=(plan,)).test_client()) == before


def test_fault_rules_and_plans_put_over_http_survive_a_restart(
    opened: Callable[..., Flask],
) -> None:
    client = opened().test_client()
    rule = {"match": {"surface": "tracker"}, "action": {"status": 503}, "times": 3}
    made = client.post("/_emulator/faults", json=rule).json["fault"]
    assert track(client, "Signed Up").status_code == 503  # one hit of three
    plan = {"name": "shop", "rules": [{"type": "TRACK", "key": "Signed Up", "version": 1,
                                       "jsonSchema": {"type": "object"}}]}  # fmt: skip
    assert client.put("/_emulator/merchants/m1/tracking-plan", json=plan).status_code == 200
    assert client.put("/_emulator/merchants/m2/tracking-plan", json=plan).status_code == 200
    assert client.delete("/_emulator/merchants/m2/tracking-plan").status_code == 200
    before = client.get("/_emulator/faults").json["faults"]

    again = opened().test_client()
    after = again.get("/_emulator/faults").json["faults"]
    assert [(f["id"], f["hits"], f["remaining"]) for f in after] == [(made["id"], 1, 2)]
    assert after == before
    assert again.get("/_emulator/merchants/m1/tracking-plan").json["plan"]["name"] == "shop"
    assert again.get("/_emulator/merchants/m2/tracking-plan").status_code == 404
    # The next rule gets a new id: ids are never reused, across a restart too.
    assert again.post("/_emulator/faults", json=rule).json["fault"]["id"] != made["id"]
    # A reset clears the rules, in the file too.
    assert again.post("/_emulator/reset").status_code == 200
    assert opened().test_client().get("/_emulator/faults").json["faults"] == []
