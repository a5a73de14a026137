"""The container image: built offline on a debootstrapped Debian base, run with podman."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import contract
from emulator.testing import EmulatorClient
from tests.conftest import LEAN_PLUGINS
from tests.e2e.image import REPO, Podman

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(podman: Podman, image: str, volume: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run the image detached on a free port with this environment and a volume at /data."""
    port = free_port()
    name = f"wishpond-emulator-test-{os.getpid()}-{port}"
    settings = [f"--env={k}={v}" for k, v in {**env, "WISHPOND_EMULATOR_PORT": str(port)}.items()]
    podman(
        "run", "--detach", "--runtime", "runc", "--network", "host", "--name", name,
        *settings, "--volume", f"{volume}:/data", image,
    )  # fmt: skip
    started = time.monotonic()
    return {"name": name, "url": f"http://127.0.0.1:{port}", "volume": volume, "started": started}


@pytest.fixture
def container(podman: Podman, image: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Start the image with env-only configuration, a volume for the export and a free port."""
    volume = tmp_path / "data"
    volume.mkdir()
    volume.chmod(0o777)  # the image runs as an unprivileged user
    started = start(podman, image, volume, {"WISHPOND_EMULATOR_EXPORT_ON_EXIT": "/data/state.json"})
    yield started
    podman("rm", "--force", started["name"], check=False)


def wait_healthy(podman: Podman, name: str, started: float, limit: float) -> float:
    """Run the image's HEALTHCHECK until it passes; return the seconds since start."""
    while True:
        check = podman("healthcheck", "run", name, check=False, timeout=10)
        elapsed = time.monotonic() - started
        if check.returncode == 0:
            return elapsed
        if elapsed > limit + 5:
            logs = podman("logs", name, check=False)
            pytest.fail(
                f"not healthy after {elapsed:.1f}s: {check.stderr}\n{logs.stdout}{logs.stderr}"
            )
        time.sleep(0.05)


def identify(url: str, body: dict[str, Any]) -> None:
    """Send one tracker identify and check it is answered 200."""
    request = urllib.request.Request(
        f"{url}/tracker/v1/identify",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_container_lifecycle(podman: Podman, container: dict[str, Any]) -> None:
    name, url = container["name"], container["url"]
    healthy_after = wait_healthy(podman, name, container["started"], 2.0)
    assert healthy_after < 2.0, f"healthy only {healthy_after:.2f}s after start"
    assert "ready on http://0.0.0.0:" in podman("logs", name).stdout
    health = json.loads(podman("inspect", name, "--format", "{{json .Config.Healthcheck}}").stdout)
    assert health["Test"][1:3] == ["wishpond-emulator", "ready"], health
    assert podman("exec", name, "id", "-u").stdout.strip() != "0"

    body = {
        "merchant_id": "m1", "write_key": "any-key", "anonymous_id": "visitor-1",
        "id": "container-lead", "attributes": {"email": "c@example.com", "plan": "Pro"},
    }  # fmt: skip
    identify(url, body)
    EmulatorClient(url).merchant("m1").assert_lead("container-lead", plan="Pro")
    # CI reaches a service container under names of its own: the image answers any Host.
    named = urllib.request.Request(f"{url}/_emulator/health", headers={"Host": "emulator:9474"})
    with urllib.request.urlopen(named, timeout=5) as response:
        assert response.status == 200

    stopping = time.monotonic()
    podman("stop", "--time", "10", name)
    stopped_after = time.monotonic() - stopping
    assert stopped_after < 2.0, f"podman stop took {stopped_after:.2f}s"
    exit_code = podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
    assert exit_code == "0", "the emulator did not exit cleanly on SIGTERM"

    exported = json.loads((container["volume"] / "state.json").read_text(encoding="utf-8"))
    contract.validate("state", exported)
    (lead,) = exported["merchants"]["m1"]["leads"]
    assert lead["id"] == "container-lead"
    assert lead["attributes"] == {"email": "c@example.com", "plan": "Pro"}


def test_a_data_file_on_the_volume_survives_docker_kill(
    podman: Podman, image: str, tmp_path: Path
) -> None:
    volume = tmp_path / "data"
    volume.mkdir()
    volume.chmod(0o777)  # the image runs as an unprivileged user
    env = {"WISHPOND_EMULATOR_DATA_FILE": "/data/wishpond.db"}
    names = []
    try:
        first = start(podman, image, volume, env)
        names.append(first["name"])
        wait_healthy(podman, first["name"], first["started"], 10.0)
        identify(first["url"], {"merchant_id": "m1", "write_key": "k", "id": "kept-lead"})
        podman("kill", "--signal", "KILL", first["name"])  # as docker kill does
        second = start(podman, image, volume, env)
        names.append(second["name"])
        wait_healthy(podman, second["name"], second["started"], 10.0)
        client = EmulatorClient(second["url"])
        client.merchant("m1").assert_lead("kept-lead")
        with urllib.request.urlopen(f"{second['url']}/_emulator/health", timeout=5) as response:
            durable = json.loads(response.read())["durable"]
        assert durable == {"path": "/data/wishpond.db", "sync": "normal"}
    finally:
        for name in names:
            podman("rm", "--force", name, check=False)


def github_actions() -> dict[str, Any]:
    """Return the GitHub Actions example of docs/container.md, parsed."""
    text = (REPO / "docs" / "container.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- example: github-actions -->\n```yaml\n(.*?)\n```", text, re.S)
    assert found, "docs/container.md lost its <!-- example: github-actions --> yaml block"
    job: dict[str, Any] = yaml.safe_load(found.group(1))["jobs"]["integration"]
    return job


def test_documented_example_passes_on_four_workers_against_the_github_actions_service(
    podman: Podman, image: str, tmp_path: Path
) -> None:
    """The testing.md example passes against a container started as docs/container.md's CI job
    starts its service, run with the job's environment and its pytest command."""
    from tests.test_testing import documented_example

    job = github_actions()
    service = job["services"]["wishpond"]
    (pytest_step,) = [s["run"] for s in job["steps"] if "pytest" in s.get("run", "")]
    args = shlex.split(pytest_step)
    assert args[:3] == ["python", "-m", "pytest"], pytest_step
    volume = tmp_path / "data"
    volume.mkdir()
    started = start(podman, image, volume, {k: str(v) for k, v in service.get("env", {}).items()})
    try:
        wait_healthy(podman, started["name"], started["started"], 10.0)
        tests = tmp_path / "tests" / "integration"
        tests.mkdir(parents=True)
        (tests / "test_signup.py").write_text(documented_example(), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WISHPOND_EMULATOR_")}
        env.update({k: str(v) for k, v in job.get("env", {}).items()})
        env["PYTEST_ADDOPTS"] = " ".join(LEAN_PLUGINS)
        # The job reaches the service's published port 9474; here the container has its own.
        env["WISHPOND_EMULATOR_URL"] = env["WISHPOND_EMULATOR_URL"].replace(
            "localhost:9474", started["url"].removeprefix("http://")
        )
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args[3:]]
        with contextlib.chdir(tmp_path):
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=180, check=False
            )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "-n" in args and re.search(r"\b4 passed", done.stdout), done.stdout
        # Every test wrote to a merchant of its own, on the one service.
        merchants = [m["id"] for m in EmulatorClient(started["url"]).merchants()]
        assert len([m for m in merchants if m.startswith("gw")]) >= 2, merchants
    finally:
        podman("rm", "--force", started["name"], check=False)
