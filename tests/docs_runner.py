"""Run a page's shell and Python examples in order, as a reader would, against a served emulator.

How a page runs (docs/contract.md, "The examples in these docs run as tests"):
- in a fresh directory holding `fixtures/` and every block marked `<!-- file: PATH -->`;
- with an open-mode emulator already serving ("with the emulator running"); port 9474 in the
  blocks is rewritten to its free port, and WISHPOND_EMULATOR_PORT is that port;
- `wishpond-emulator` in a block stops the running emulator, as Ctrl-C would, and starts the
  new one, returning once it is ready (so a trailing `&` is dropped); at the end of the page the
  last one gets SIGTERM and must exit 0;
- `pip install` checks that what it names exists (extras, installed packages) and changes
  nothing; `curl` fails on an HTTP error status, unless the block is marked
  `<!-- http-errors-ok -->`;
- a Python block with `def test_...` runs under pytest, any other as a script.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import LEAN_PLUGINS
from tests.docs_blocks import ROOT, Block
from tests.docs_shims import CLI_ENV, SOCKET_ENV

SHIMS = Path(__file__).with_name("docs_shims.py")
PORT = re.compile(r"\b9474\b")
BACKGROUND = re.compile(
    r"^(\s*(?:\w+=\S*\s+)*wishpond-emulator\b[^&#\n]*?)\s*(?<!&)&(?!&)\s*(#.*)?$", re.M
)
TEST_FUNCTION = re.compile(r"^def test_\w*\(", re.M)
PLAIN_CURL = "DOCS_RUNNER_PLAIN_CURL"
BLOCK_TIMEOUT = 120  # seconds; the slowest example takes a few
HINT = (
    "If this example needs more than the emulator, Python and the project's extras, put "
    "`<!-- not-run: REASON -->` on the line above its fence, naming what it needs and the "
    "test that runs it (docs/contract.md, 'The examples in these docs run as tests')."
)


def cli() -> list[str]:
    """Return the real `wishpond-emulator` command."""
    found = shutil.which("wishpond-emulator")
    return [found] if found else [sys.executable, "-m", "emulator"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One emulator a page started."""

    proc: subprocess.Popen[str]
    args: list[str]
    log: Path


@dataclass
class Servers:
    """Serve emulators for the blocks' `wishpond-emulator` stand-in, one at a time."""

    state: Path
    current: Server | None = None
    failures: list[str] = field(default_factory=list)
    count: int = 0

    def start(self, args: list[str], cwd: str, env: dict[str, str]) -> dict[str, Any]:
        """Stop the running emulator, start one with args, and answer once it is ready."""
        self.stop()
        self.count += 1
        log = self.state / f"server-{self.count}.log"
        with open(log, "w") as errors:
            proc = subprocess.Popen(
                [*cli(), *args], cwd=cwd, env=env, text=True,
                stdout=subprocess.PIPE, stderr=errors, start_new_session=True,
            )  # fmt: skip
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else ""
        if "ready on " not in line:
            if proc.poll() is None:
                proc.kill()
            status = proc.wait()
            return {"status": status or 1, "stdout": line, "stderr": log.read_text()}
        self.current = Server(proc, args, log)
        return {"status": 0, "stdout": line, "stderr": ""}

    def stop(self) -> None:
        """Stop the running emulator with SIGTERM, noting it if it does not exit 0."""
        server, self.current = self.current, None
        if server is None:
            return
        server.proc.send_signal(signal.SIGTERM)
        try:
            status = server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            status = server.proc.wait()
        if status != 0:
            self.failures.append(
                f"`wishpond-emulator {' '.join(server.args)}` exited {status} on SIGTERM:\n"
                + server.log.read_text()[-2000:]
            )


def _listen(servers: Servers, path: Path) -> socketserver.UnixStreamServer:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = json.loads(self.rfile.readline())
            answer = servers.start(request["args"], request["cwd"], request["env"])
            self.wfile.write(json.dumps(answer).encode() + b"\n")

    listener = socketserver.UnixStreamServer(str(path), Handler)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    return listener


def _shims(bin_dir: Path) -> None:
    """Write the stand-ins for pip, python -m pip, wishpond-emulator and curl."""
    bin_dir.mkdir()
    py, shims = sys.executable, SHIMS
    curl = shutil.which("curl") or "curl"
    scripts = {
        "pip": f'exec "{py}" "{shims}" pip "$@"',
        "wishpond-emulator": f'exec "{py}" "{shims}" wishpond-emulator "$@"',
        "python": (
            f'if [ "$1" = -m ] && [ "$2" = pip ]; then\n  shift 2; exec "{py}" "{shims}" pip "$@"\n'
            f'fi\nexec "{py}" "$@"'
        ),
        "curl": (
            f'[ -n "${PLAIN_CURL}" ] && exec "{curl}" "$@"\nexec "{curl}" --fail-with-body "$@"'
        ),
    }
    scripts["pip3"], scripts["python3"] = scripts["pip"], scripts["python"]
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)


def _prepared(block: Block, port: int) -> str:
    text = PORT.sub(str(port), block.text)
    if block.kind == "shell":
        text = BACKGROUND.sub(lambda m: f"{m[1]}  {m[2] or ''}".rstrip(), text)
    return text


@dataclass
class PageRun:
    """Everything one page's run needs: its directories, environment and emulator."""

    work: Path
    state: Path
    socket_path: Path
    servers: Servers = field(init=False)
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.servers = Servers(self.state)
        _shims(self.state / "bin")
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("WISHPOND_", "PYTEST_"))}
        self.env = {
            **keep,
            "PATH": f"{self.state / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "WISHPOND_EMULATOR_PORT": str(self.port),
            "PYTEST_ADDOPTS": " ".join(LEAN_PLUGINS),
            SOCKET_ENV: str(self.socket_path),
            CLI_ENV: json.dumps(cli()),
        }

    def run(self, blocks: list[Block]) -> None:
        """Run the blocks in order; raise AssertionError naming the first that fails."""
        (self.work / "fixtures").symlink_to(ROOT / "fixtures")
        for block in blocks:
            if block.marker("file") and block.marker("not-run") is None:
                target = self.work / block.marker("file")  # type: ignore[operator]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(_prepared(block, self.port), encoding="utf-8")
        listener = _listen(self.servers, self.socket_path)
        try:
            started = self.servers.start(["serve"], str(self.work), self.env)
            assert started["status"] == 0, f"the page's emulator did not start: {started}"
            for block in blocks:
                if block.kind and block.marker("not-run") is None and not block.marker("file"):
                    self._run_block(block)
            self.servers.stop()
            assert not self.servers.failures, "\n".join(self.servers.failures)
        finally:
            listener.shutdown()
            listener.server_close()
            if self.servers.current is not None:
                self.servers.current.proc.kill()
                self.servers.current.proc.wait()

    def _run_block(self, block: Block) -> None:
        text = _prepared(block, self.port)
        name = f"block_{block.line}"
        if block.kind == "shell":
            script = self.state / f"{name}.sh"
            command = ["bash", "-eo", "pipefail", str(script)]
        elif TEST_FUNCTION.search(text):
            script = self.state / f"test_{name}.py"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
        else:
            script = self.state / f"{name}.py"
            command = [sys.executable, str(script)]
        script.write_text(text, encoding="utf-8")
        env = self.env
        if block.marker("http-errors-ok") is not None:
            env = {**env, PLAIN_CURL: "1"}  # the block shows an error answer on purpose
        proc = subprocess.Popen(
            command, cwd=self.work, env=env, text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            output, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            output += f"\n[timed out after {BLOCK_TIMEOUT} s]"
        finally:
            # Whatever the block left running in the background goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        passed = "pytest" not in command or re.search(r"\b[1-9]\d* passed", output)
        if proc.returncode != 0 or not passed:
            raise AssertionError(
                f"{block.where}: the {block.lang} example exited {proc.returncode}.\n"
                f"--- example ---\n{text}--- output ---\n{output[-6000:]}\n{HINT}"
            )
