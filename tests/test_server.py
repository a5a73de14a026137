"""The served process under load: parked long-polls never hold back writes, idle sockets lock no
one out. Loopback only, bounded in size and time."""

from __future__ import annotations

import http.client
import json
import resource
import selectors
import socket
import statistics
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Served

POLLS = 200
IDLE = 500


@pytest.fixture(autouse=True)
def enough_descriptors() -> None:
    """Let this process hold the sockets the tests open (each is a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * (POLLS + IDLE) + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def port_of(served: Served) -> int:
    return int(served.url.rsplit(":", 1)[1])


def write_latencies(port: int, count: int, merchant: str = "writer") -> list[float]:
    """Send count sequential tracker writes on one connection; return each one's seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    took = []
    for i in range(count):
        body = {"merchant_id": merchant, "write_key": "k", "anonymous_id": "a", "event": f"E{i}"}
        started = time.perf_counter()
        conn.request("POST", "/tracker/v1/track", json.dumps(body), {"Content-Type": "text/plain"})
        response = conn.getresponse()
        response.read()
        took.append(time.perf_counter() - started)
        assert response.status == 200
    conn.close()
    return took


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    """Collect sockets the test opens and close them all at the end."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_writes_are_answered_at_once_with_200_long_polls_parked(
    serve: Callable[..., Served], sockets: list[socket.socket]
) -> None:
    port = port_of(serve())
    write_latencies(port, 10)  # warm up
    alone = write_latencies(port, 40)
    for _ in range(POLLS):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"GET /_emulator/merchants/parked/events?wait=30&min_count=1 HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        sockets.append(sock)
    time.sleep(1.0)  # every long-poll reaches the server and parks
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    assert selector.select(timeout=0) == [], "a long-poll answered before its condition"

    parked = write_latencies(port, 40)
    # With every worker held by a long-poll, a write would wait out the 30 s of the polls.
    assert statistics.median(parked) < max(20 * statistics.median(alone), 0.2), (alone, parked)
    assert max(parked) < 3.0, parked

    # One write meets every long-poll's condition: all 200 answer, each with that event.
    released = time.perf_counter()
    write_latencies(port, 1, merchant="parked")
    answers: dict[socket.socket, bytes] = {s: b"" for s in sockets}
    done: dict[socket.socket, float] = {}
    while len(done) < POLLS and time.perf_counter() - released < 15:
        for key, _ in selector.select(timeout=0.1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            chunk = sock.recv(65536)
            answers[sock] += chunk
            if not chunk:
                done[sock] = time.perf_counter() - released
                selector.unregister(sock)
    assert len(done) == POLLS, f"{POLLS - len(done)} long-polls were never released"
    assert all(b" 200 OK" in a and b'"event":"E0"' in a for a in answers.values())
    assert max(done.values()) < 5.0, sorted(done.values())[-5:]


def test_500_idle_or_slow_connections_lock_no_one_out(
    serve: Callable[..., Served], sockets: list[socket.socket]
) -> None:
    port = port_of(serve())
    for i in range(IDLE):
        sock = socket.create_connection(("127.0.0.1", port))
        if i % 5 == 0:  # a slow client: half a request line, never finished
            sock.sendall(b"POST /tracker/v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        sockets.append(sock)
    time.sleep(0.5)
    # New clients, each on a connection of its own, are still answered.
    for _ in range(10):
        started = time.perf_counter()
        write_latencies(port, 1)
        assert time.perf_counter() - started < 3.0
    health = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    health.request("GET", "/_emulator/health")
    assert health.getresponse().status == 200
