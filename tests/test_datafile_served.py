"""The data file on served processes: kill -9 under load loses no answered call; one holder."""

from __future__ import annotations

import base64
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.conftest import Served, cli

THREADS = 8
KILLS = 4
MERCHANT = "m"
SEGMENT = {"Authorization": "Basic " + base64.b64encode(f"{MERCHANT}:".encode()).decode()}
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcomes:
    """What the load saw of each call id: answered 200 (per thread, in order), refused, unknown."""

    answered: list[list[str]] = field(default_factory=lambda: [[] for _ in range(THREADS)])
    refused: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    # Per thread, the last Segment batch answered 200: sent again after the restart.
    batches: dict[int, list[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def call_for(run: int, thread: int, n: int) -> tuple[str, str, Any, list[str], list[str]]:
    """Return (path, kind, body, ids it stores if answered 200, ids it never stores)."""
    cid = f"r{run}-t{thread}-{n}"
    base = {"merchant_id": MERCHANT, "write_key": "k"}
    kind = n % 4
    if kind == 0:  # refused: a track without its title
        return "/tracker/v1/track", "tracker", {**base, "properties": {"call": cid}}, [], [cid]
    if kind == 1:
        body = {**base, "event": "Load", "id": f"u{thread}", "properties": {"call": cid}}
        return "/tracker/v1/track", "tracker", body, [cid], []
    if kind == 2:
        body = {**base, "id": f"u{thread}", "attributes": {"call": cid, "n": n}}
        return "/tracker/v1/identify", "tracker", body, [cid], []
    messages = [
        {"type": "track", "userId": f"u{thread}", "event": "Batch",
         "properties": {"call": f"{cid}/{part}"}, "messageId": f"{cid}/{part}"}
        for part in ("a", "b")
    ]  # fmt: skip
    # Dropped alone (no title), as Segment drops it; its id is never stored.
    dropped = {"type": "track", "userId": f"u{thread}", "messageId": f"{cid}/x",
               "properties": {"call": f"{cid}/x"}}  # fmt: skip
    body = {"batch": [messages[0], dropped, messages[1]]}
    return "/v1/batch", "segment", body, [f"{cid}/a", f"{cid}/b"], [f"{cid}/x"]


def load(url: str, run: int, thread: int, stop: threading.Event, out: Outcomes) -> None:
    """Send calls one after another until the server dies or stop is set."""
    session = requests.Session()
    n = 0
    while not stop.is_set():
        n += 1
        path, kind, body, stored, never = call_for(run, thread, n)
        headers = SEGMENT if kind == "segment" else {}
        try:
            reply = session.post(url + path, json=body, headers=headers, timeout=10)
        except requests.RequestException:
            with out.lock:
                out.unknown.update(stored)
                out.refused.update(never)
            return
        with out.lock:
            out.refused.update(never)
            if reply.status_code == 200:
                out.answered[thread] += stored
                if kind == "segment":
                    out.batches[thread] = body["batch"]
            else:
                out.refused.update(stored)


def start(data: Path, *args: str, timeout: float = 20) -> Served:
    """Start `serve --data-file` and wait for its ready line (it comes after the load)."""
    from tests.conftest import start_served

    return start_served("--data-file", str(data), *args, timeout=timeout)


def stored_ids(url: str) -> list[tuple[int, str]]:
    """Return (seq, call id) of every event the merchant holds, in seq order."""
    events = requests.get(f"{url}/_emulator/merchants/{MERCHANT}/events", timeout=30).json()
    out = []
    for event in events["events"]:
        carried = event["properties"] or event["attributes"] or {}
        out.append((event["seq"], carried["call"]))
    return out


def check(url: str, out: Outcomes, context: str) -> None:
    """Every id answered 200 is stored once, each thread's in order; none refused is."""
    found = stored_ids(url)
    counts = Counter(cid for _, cid in found)
    doubled = [cid for cid, count in counts.items() if count > 1]
    assert not doubled, f"{context}: stored twice: {doubled[:5]}"
    where = {cid: seq for seq, cid in found}
    answered = [cid for ids in out.answered for cid in ids]
    missing = [cid for cid in answered if cid not in where]
    assert not missing, f"{context}: answered 200 but lost: {missing[:5]} of {len(answered)}"
    stored_refused = sorted(out.refused & set(where))
    assert not stored_refused, f"{context}: refused but stored: {stored_refused[:5]}"
    phantom = set(where) - set(answered) - out.unknown
    assert not phantom, f"{context}: stored but never sent: {sorted(phantom)[:5]}"
    for thread, ids in enumerate(out.answered):
        seqs = [where[cid] for cid in ids]
        assert seqs == sorted(seqs), f"{context}: thread {thread}'s calls out of order"


def test_kill_9_under_load_loses_no_answered_call(tmp_path: Path) -> None:
    data = tmp_path / "state.db"
    out = Outcomes()
    rng = random.Random()
    served = start(data)
    try:
        for run in range(KILLS):
            stop = threading.Event()
            threads = [
                threading.Thread(target=load, args=(served.url, run, t, stop, out))
                for t in range(THREADS)
            ]
            for thread in threads:
                thread.start()
            delay = rng.uniform(0.3, 1.2)
            time.sleep(delay)
            served.proc.send_signal(signal.SIGKILL)
            served.proc.wait(10)
            stop.set()
            for thread in threads:
                thread.join(15)
            context = f"run {run}, killed {delay:.2f} s into the load"
            served = start(data)
            check(served.url, out, context)
            before = len(stored_ids(served.url))
            for messages in out.batches.values():  # answered before the kill: repeats now
                reply = requests.post(f"{served.url}/v1/batch", json={"batch": messages},
                                      headers=SEGMENT, timeout=10)  # fmt: skip
                assert reply.status_code == 200
            assert len(stored_ids(served.url)) == before, f"{context}: a repeat was stored"
        answered = sum(len(ids) for ids in out.answered)
        assert answered > KILLS * THREADS, f"the load barely ran: {answered} calls answered"
    finally:
        served.stop()


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli(), "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def identify(served: Served, merchant: str, lead_id: str) -> None:
    body = {"merchant_id": merchant, "write_key": "k", "id": lead_id}
    assert requests.post(f"{served.url}/tracker/v1/identify", json=body, timeout=5).ok


def test_a_file_another_emulator_holds_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "state.db"
    first = start(data)
    try:
        identify(first, MERCHANT, "u1")
        second = run_cli("--data-file", str(data))
        assert second.returncode == 2
        [line] = second.stderr.splitlines()
        assert line == (
            f"wishpond-emulator: --data-file {data} is in use by another process (another "
            "emulator holds it); stop that process, or give this one another --data-file."
        )
        leads = requests.get(f"{first.url}/_emulator/merchants/{MERCHANT}/leads", timeout=5)
        assert [x["id"] for x in leads.json()["leads"]] == ["u1"]
    finally:
        assert first.stop() == 0
    again = start(data)  # a clean exit let it go
    assert again.stop() == 0


def merchants(served: Served) -> list[str]:
    rows = requests.get(f"{served.url}/_emulator/merchants", timeout=5).json()["merchants"]
    return [row["id"] for row in rows]


def test_import_into_a_file_with_data_needs_a_mode(tmp_path: Path) -> None:
    data, demo = tmp_path / "state.db", str(ROOT / "fixtures" / "demo.json")
    first = start(data)
    identify(first, "mine", "u1")
    assert first.stop() == 0
    refused = run_cli("--data-file", str(data), "--import", demo)
    assert refused.returncode == 2
    [line] = refused.stderr.splitlines()
    assert "holds data already" in line and "--import-mode replace" in line and demo in line
    merged = start(data, "--import", demo, "--import-mode", "merge")
    assert merchants(merged) == ["acme-shop", "globex-store", "mine"]
    assert merged.stop() == 0
    kept = start(data)  # the import was written to the file
    assert merchants(kept) == ["acme-shop", "globex-store", "mine"]
    assert kept.stop() == 0
    replaced = start(data, "--import", demo, "--import-mode", "replace")
    assert merchants(replaced) == ["acme-shop", "globex-store"]
    assert replaced.stop() == 0


def test_the_environment_names_the_data_file_and_its_sync(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    data = tmp_path / "env.db"
    served = serve(env={"WISHPOND_EMULATOR_DATA_FILE": str(data),
                        "WISHPOND_EMULATOR_DATA_SYNC": "full"})  # fmt: skip
    health = requests.get(f"{served.url}/_emulator/health", timeout=5).json()
    assert health["durable"] == {"path": str(data), "sync": "full"}
    assert served.stop() == 0
