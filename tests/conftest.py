"""Shared fixtures: function-scoped apps, served processes, Hypothesis profiles."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from emulator import create_app
from emulator.settings import Settings

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# Plugins of this project's test extra that the inner pytest runs (sample suites, documented
# examples) never use; each costs every pytest start, and every pytest-xdist worker's, seconds.
LEAN_PLUGINS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio")


@pytest.fixture
def app() -> Flask:
    """Return a fresh app in open mode."""
    return create_app(Settings())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of a fresh app."""
    return app.test_client()


def require_tool(name: str, why: str) -> str:
    """Return a tool's path; skip without it, or fail under EMULATOR_REQUIRE_E2E=1."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed ({why})"
        if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(message + "; EMULATOR_REQUIRE_E2E=1 makes this a failure")
        pytest.skip(message)
    return path


# npm packages the tests run (Segment's own libraries): .ci/run installs them here.
NODE_MODULES_ENV = "EMULATOR_NODE_MODULES"
NODE_MODULES = Path(__file__).resolve().parent.parent / ".ci" / "node" / "node_modules"


def require_node_package(name: str) -> Path:
    """Return the node_modules folder holding an npm package; skip without it, or fail
    under EMULATOR_REQUIRE_E2E=1."""
    require_tool("node", f"the tests run the npm package {name} in Node")
    folder = Path(os.environ.get(NODE_MODULES_ENV) or NODE_MODULES)
    if not (folder / name / "package.json").is_file():
        message = (
            f"the npm package {name} is not in {folder} (bash .ci/run installs it; or set "
            f"{NODE_MODULES_ENV} to a node_modules folder that has it)"
        )
        if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(message + "; EMULATOR_REQUIRE_E2E=1 makes this a failure")
        pytest.skip(message)
    return folder


@dataclass
class Served:
    """A `wishpond-emulator serve` subprocess."""

    proc: subprocess.Popen[str]
    url: str

    def stop(self, timeout: float = 5) -> int:
        """Send SIGTERM and return the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def cli() -> list[str]:
    """Return the installed `wishpond-emulator` command (python -m emulator without one)."""
    found = shutil.which("wishpond-emulator")
    return [found] if found else [sys.executable, "-m", "emulator"]


def start_served(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> Served:
    """Start `wishpond-emulator serve` on a free port and wait for its ready line."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WISHPOND_EMULATOR_")}
    full_env.update(env or {})
    # stderr goes to a file: a pipe nobody reads could fill and stall the server.
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [*cli(), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=full_env,
        )
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if "ready on " not in line:
            proc.kill()
            proc.wait()
            errors.seek(0)
            raise AssertionError(f"no ready line within {timeout}s: {line!r} {errors.read()}")
    return Served(proc, line.rsplit(" ", 1)[1].strip())


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start served emulators and kill them at teardown."""
    started: list[Served] = []

    def factory(*args: str, **kwargs: Any) -> Served:
        served = start_served(*args, **kwargs)
        started.append(served)
        return served

    yield factory
    for served in started:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()
