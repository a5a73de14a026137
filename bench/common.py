"""Shared bench code: ports, server processes, wrk runs, RSS and result files."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
LUA = BENCH / "post.lua"
MERCHANT = "bench"
WRITE_KEY = "bench-key"


def python() -> str:
    """Return the interpreter running the bench (servers use the same one)."""
    return sys.executable


def require_wrk() -> str:
    """Return wrk's path or exit with a message saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "bench: wrk is not installed; it is the load generator of every throughput figure. "
            "Install it with `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`, "
            "then rerun."
        )
    return path


def free_port() -> int:
    """Return a port that is free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for_servers() -> dict[str, str]:
    """Return the environment for server processes: no WISHPOND_EMULATOR_* leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WISHPOND_EMULATOR_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), str(ROOT)) if p)
    return env


def get(url: str, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET a path and return (status, body)."""
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_http(url: str, path: str, timeout: float, proc: subprocess.Popen[Any]) -> float:
    """Poll path every 5 ms until it answers 200; return the seconds it took."""
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {path}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(url, path, timeout=1.0)[0] == 200:
                return time.perf_counter() - start
        time.sleep(0.005)
    raise RuntimeError(f"{url}{path} did not answer 200 within {timeout} s")


@dataclass
class Running:
    """A server process started by the bench."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    exit_code: int | None = None
    stop_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM and record the exit code and how long the exit took."""
        if self.proc.poll() is None:
            start = time.perf_counter()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.exit_code = self.proc.wait()
            self.stop_seconds = time.perf_counter() - start
        else:
            self.exit_code = self.proc.returncode


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    port: int,
    health: str = "/_emulator/health",
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Iterator[Running]:
    """Start argv (which must listen on port), wait for health, and stop it on exit."""
    OUT.mkdir(exist_ok=True)
    log = OUT / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            list(argv), stdout=fh, stderr=subprocess.STDOUT, env=env or env_for_servers()
        )
    run = Running(name, proc, f"http://127.0.0.1:{port}", log)
    try:
        try:
            wait_http(run.url, health, timeout, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{name}: {exc}; see {log}") from None
        yield run
    finally:
        run.stop()


def write_lines(name: str, lines: Sequence[str]) -> Path:
    """Write one item per line to bench/out/<name> and return the path."""
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wrk(
    url: str,
    path: str,
    items: Path,
    connections: int,
    duration: float,
    limit: int | None = None,
    auth: str | None = None,
    get_paths: bool = False,
    pid: int | None = None,
    unique: bool = False,
) -> dict[str, Any]:
    """Run wrk against url+path and return req/s, p50/p99 in ms and the raw counts.

    With pid, also the server's CPU time per request (its process tree's user+system time),
    which other load on the machine disturbs far less than the rate. With unique, every
    "messageId" in the bodies gets a prefix no earlier request had, so none is a repeat.
    """
    env = dict(os.environ)
    env.pop("BENCH_BODIES", None)
    env.pop("BENCH_PATHS", None)
    env["BENCH_PATHS" if get_paths else "BENCH_BODIES"] = str(items)
    if auth:
        env["BENCH_AUTH"] = auth
    if unique:  # every messageId new: each run's own prefix, each request's number
        env["BENCH_UNIQUE"] = f"r{os.getpid()}-{time.monotonic_ns()}"
    if limit is not None:
        env["BENCH_LIMIT"] = str(max(1, limit))
    argv = [
        require_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url + path,
    ]
    marker = OUT / f"wrk-{os.getpid()}.done"
    marker.unlink(missing_ok=True)
    env["BENCH_DONE"] = str(marker)
    cpu_before = cpu_seconds(pid) if pid else 0.0
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    if limit is not None:
        # wrk only knows whole-second durations; end it once the limit is reached.
        while proc.poll() is None and not marker.exists():
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    marker.unlink(missing_ok=True)
    line = next((x for x in stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stdout}\n{stderr}")
    cpu = cpu_seconds(pid) - cpu_before if pid else None
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    extra = {}
    if cpu is not None and raw["requests"]:
        extra["cpu_us_per_req"] = round(cpu * 1e6 / raw["requests"], 1)
    return {
        **extra,
        "connections": connections,
        "requests": raw["requests"],
        "errors": errors,
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 3),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 3),
    }


def cpu_seconds(pid: int) -> float:
    """Return the user+system CPU seconds of a process and all its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                stats[int(entry.name)] = (
                    int(fields[1]),
                    (int(fields[11]) + int(fields[12])) / ticks,
                )
    tree, total = {pid}, 0.0
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


def rss_bytes(pid: int | str = "self") -> int:
    """Return a process's resident set size in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc status")


def machine() -> dict[str, Any]:
    """Return what the figures depend on: cores, load, Python and the time."""
    return {
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def save(name: str, result: dict[str, Any], path: str | None) -> None:
    """Print the result as JSON and write it to path (default bench/out/<name>.json)."""
    result = {"bench": name, "machine": machine(), **result}
    text = json.dumps(result, indent=2)
    target = Path(path) if path else OUT / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n", encoding="utf-8")
    print(text)


def ratio(a: float, b: float) -> float | None:
    """Return a / b rounded, or None when b is zero."""
    return round(a / b, 3) if b else None


def parser(doc: str | None, name: str) -> argparse.ArgumentParser:
    """Return an argument parser with the options every bench script shares."""
    out = argparse.ArgumentParser(description=doc)
    out.add_argument("--tiny", action="store_true", help="a tiny run that checks the script works")
    out.add_argument("--json", help=f"where to write the results (default bench/out/{name}.json)")
    return out
