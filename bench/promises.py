"""Which of the served path's promises each WSGI server keeps, by experiment.

Each server serves the emulator app (bench/apps.py, 32 worker threads unless said) in a
fresh process for each experiment:
- drain: four 2,000-message batches in flight when SIGTERM arrives; every one must be
  answered 200, the process must exit 0, and the state it writes at exit must hold them all;
- long-polls: 200 parked long-polls must not hold back writes, and one write releases them;
- idle: 500 idle connections open, new clients are still answered;
- framing: the requests contract/test_framing.py sends, answered with a JSON error document;
- no answer: a request the app wants dropped gets no byte back, the connection closed;
- host: a foreign Host header reaches the app, which refuses it (the rule is the app's);
- in-process: the server runs in a thread of this process and stops when asked.

    python bench/promises.py --servers product,granian,gunicorn,cheroot,pyruvate
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import apps
import longpoll
import payloads
from common import OUT, env_for_servers, free_port, parser, running, save

# Some of contract/test_framing.py's requests, and the status each must be answered with.
FRAMING = [
    (b"Transfer-Encoding: gzip\r\n", b"", 400),
    (b"Content-Length: -5\r\n", b"{}", 400),
    (b"Content-Length: 12abc\r\n", b"{}", 400),
    (b"Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n", 400),
    (b"X-Big: " + b"a" * 300_000 + b"\r\n", b"", 431),
    (b"Bad Header Line\r\n", b"", 400),
]


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, then read until the server closes or goes quiet; return what came."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        got = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                got += chunk
                if b"\r\n\r\n" in got and _complete(got):
                    break
        return got


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status_json(reply: bytes) -> tuple[int | None, bool]:
    if not reply.startswith(b"HTTP/"):
        return None, False
    head, _, body = reply.partition(b"\r\n\r\n")
    try:
        doc = json.loads(body)
    except ValueError:
        return int(head.split()[1]), False
    return int(head.split()[1]), isinstance(doc, dict) and "code" in doc.get("error", {})


def framing(port: int) -> dict[str, Any]:
    """Send each malformed request; count those answered as they must be, in JSON."""
    answers = []
    for extra, body, wanted in FRAMING:
        request = b"POST /tracker/v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"
        status, is_json = _status_json(raw(port, request + body))
        answers.append({"status": status, "wanted": wanted, "json": is_json})
    right = sum(a["json"] and a["status"] == a["wanted"] for a in answers)
    return {"right": right, "of": len(answers), "kept": right == len(answers), "answers": answers}


def no_answer(port: int) -> dict[str, Any]:
    """Ask the probe route to drop the request, each way; return what the client got."""
    out = {}
    for how in ("raise", "socket"):
        got = raw(port, f"GET /probe/drop?{how} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        out[how] = {"bytes": len(got), "status": _status_json(got)[0]}
    out["kept"] = any(v["bytes"] == 0 for v in out.values() if isinstance(v, dict))
    return out


def host(port: int) -> dict[str, Any]:
    """Send a foreign and a loopback Host to the admin API; the app must refuse only the first."""
    foreign = _status_json(raw(port, b"GET /_emulator/health HTTP/1.1\r\nHost: evil.test\r\n\r\n"))
    local = _status_json(raw(port, b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
    return {
        "foreign": foreign[0],
        "loopback": local[0],
        "kept": (foreign[0], local[0]) == (403, 200),
    }


def drain(server: str, batches: int = 4, size: int = 1200) -> dict[str, Any]:
    """SIGTERM with batches in flight: all answered, exit 0, and all in the exported state.

    Each batch (about 420 KB) is sent but for its last byte; once all are, the last bytes go
    and SIGTERM follows 10 ms later, while the app works through them.
    """
    target = OUT / f"promises-{server}-export.json"
    target.unlink(missing_ok=True)
    port = free_port()
    env = env_for_servers() | {"BENCH_EXPORT": str(target), "BENCH_THREADS": "32"}
    auth = payloads.segment_auth()
    requests = []
    for i in range(batches):
        body = payloads.compact(payloads.segment_batch(i * size, size)).encode()
        requests.append((f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n").encode() + body)  # fmt: skip
    answers: list[int | None] = [None] * batches
    ready, go = threading.Barrier(batches + 1), threading.Event()

    def send(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(requests[i][:-1])
            ready.wait()
            go.wait()
            sock.sendall(requests[i][-1:])
            got = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    got += chunk
            answers[i] = _status_json(got)[0]

    argv = apps.command("emulator", server, port)
    if server == "product":  # the real CLI and its own flag
        argv += ["--export-on-exit", str(target)]
    with running(f"promises-{server}-drain", argv, port, env=env) as run:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(batches)]
        for t in threads:
            t.start()
        ready.wait()
        time.sleep(0.2)
        go.set()
        time.sleep(0.01)
        started = time.perf_counter()
        run.stop(timeout=20)
        for t in threads:
            t.join(20)
    stored = None
    if target.exists():
        state = json.loads(target.read_text())
        stored = sum(len(m.get("events", [])) for m in state.get("merchants", {}).values())
    ok = answers.count(200)
    return {
        "answered_200": ok, "of": batches, "answers": answers, "exit_code": run.exit_code,
        "exit_seconds": round(time.perf_counter() - started, 2), "exported_events": stored,
        "kept": ok == batches and run.exit_code == 0 and stored == batches * size,
    }  # fmt: skip


@contextlib.contextmanager
def _fresh(server: str, threads: int, what: str) -> Any:
    """Serve the emulator (with the probe route) on server in a fresh process; yield its port."""
    port = free_port()
    env = env_for_servers() | {"BENCH_THREADS": str(threads), "BENCH_PROBE": "1"}
    argv = apps.command("emulator", server, port)
    if server == "product":  # the same server class as the CLI, with the probe route
        argv = [
            sys.executable,
            apps.__file__,
            "emulator",
            "--server",
            "product",
            "--port",
            str(port),
        ]
    with running(f"promises-{server}-{what}-{threads}", argv, port, env=env):
        yield port


def served(server: str, threads: int) -> dict[str, Any]:
    """Long-polls, idle connections, then framing, no answer and Host: each on a fresh process."""
    with _fresh(server, threads, "longpoll") as port:
        alone = longpoll.writes(port, 50, timeout=15)
        socks = longpoll.park(port, 200, 10.0)
        time.sleep(1.0)
        parked = longpoll.writes(port, 50, timeout=5, give_up=2)
        try:
            freed = longpoll.release(port, socks, timeout=15)
        except OSError as exc:  # the releasing write itself was held back
            freed = {"released": 0, "saw_the_event": 0, "write": f"{type(exc).__name__}"}
    with _fresh(server, threads, "idle") as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
        time.sleep(0.3)
        with_idle = longpoll.writes(port, 50, timeout=5, give_up=2)
        for sock in idle:
            sock.close()
    with _fresh(server, threads, "edges") as port:
        edges = {"framing": framing(port), "no_answer": no_answer(port), "host": host(port)}
    slow = parked["timed_out"] or (parked["p50_ms"] or 1e9) > 20 * max(1.0, alone["p50_ms"] or 0)
    return {
        "threads": threads,
        "writes_alone": alone,
        "writes_with_200_parked": parked,
        "release_200": freed,
        "long_polls_kept": not slow and freed["saw_the_event"] == 200,
        "writes_with_500_idle": with_idle,
        "idle_kept": with_idle["timed_out"] == 0 and (with_idle["max_ms"] or 1e9) < 3000,
        **edges,
    }


def in_process(server: str) -> dict[str, Any]:
    """Run the server in a thread of a fresh Python process and stop it; report what happened."""
    import subprocess

    code = f"import sys; sys.path[:0] = {[str(Path(__file__).parent)]!r}; " \
           f"import promises; print(promises._thread_trial({server!r}))"  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, env=env_for_servers())  # fmt: skip
    lines = proc.stdout.strip().splitlines() or ["no output: " + proc.stderr[-300:]]
    return {"result": lines[-1], "kept": lines[-1] == "served and stopped"}


def _thread_trial(server: str) -> str:
    """Serve the emulator from a background thread, answer one request, stop; say how it went."""
    app = apps.emulator()
    port = free_port()
    stop: Any = None
    try:
        if server == "product":
            from emulator.server import Server
            from emulator.settings import Settings

            srv = Server(app, Settings(port=port, quiet=True))
            event = threading.Event()
            thread = threading.Thread(target=srv.run_until, args=(event,), daemon=True)
            stop = lambda: (event.set(), srv.wake(), thread.join(5), srv.drain())  # noqa: E731
        elif server == "cheroot":
            from cheroot.wsgi import Server as Cheroot

            srv = Cheroot(("127.0.0.1", port), app, numthreads=8)
            thread = threading.Thread(target=srv.start, daemon=True)
            stop = lambda: (srv.stop(), thread.join(5))  # noqa: E731
        elif server == "pyruvate":
            import pyruvate

            thread = threading.Thread(
                target=pyruvate.serve, args=(app, f"127.0.0.1:{port}", 8), daemon=True
            )
        elif server == "granian":
            import asyncio

            from granian.constants import Interfaces
            from granian.server.embed import Server as Embedded

            embedded = Embedded(app, port=port, interface=Interfaces.WSGI)
            asyncio.run(embedded.serve())  # refuses WSGI, or serves until stopped
            return "serve() returned"
        else:
            from gunicorn.app.base import BaseApplication

            class Gunicorn(BaseApplication):  # type: ignore[misc]
                def load_config(self) -> None:
                    self.cfg.set("bind", f"127.0.0.1:{port}")
                    self.cfg.set("worker_class", "gthread")

                def load(self) -> Any:
                    return app

            failed: list[str] = []

            def run() -> None:
                try:
                    Gunicorn().run()
                except BaseException as exc:  # the arbiter's own SystemExit included
                    failed.append(f"{type(exc).__name__}: {str(exc)[:160]}")

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            if not _up(port):
                return failed[0] if failed else "never answered"
        if not thread.is_alive():
            thread.start()
        if not _up(port):
            return "never answered"
        if stop is None:
            return "served, but has no way to stop from the process"
        stop()
        return "served and stopped" if not thread.is_alive() else "did not stop"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:160]}"


def _up(port: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    """Try every promise on every server and save bench/out/promises.json."""
    cli = parser(__doc__, "promises")
    cli.add_argument("--servers", default="product,granian,gunicorn,cheroot,pyruvate")
    cli.add_argument("--threads", default="32", help="comma list of worker counts to try")
    args = cli.parse_args()
    rows = []
    for server in [s.strip() for s in args.servers.split(",") if s.strip()]:
        row: dict[str, Any] = {
            "server": server,
            "drain": drain(server, size=200 if args.tiny else 1200),
        }
        row["served"] = [served(server, int(t)) for t in args.threads.split(",")]
        row["in_process"] = in_process(server)
        rows.append(row)
        print(json.dumps(row)[:400], file=sys.stderr, flush=True)
    save("promises", {"rows": rows, "pid": os.getpid()}, args.json)


if __name__ == "__main__":
    main()
