"""A peer: WireMock standalone (npm package `wiremock`, which bundles the jar) serving a static
stub for POST /tracker/v1/track, against the emulator, with the same wrk in the same run.

WireMock keeps its default request journal (the emulator keeps one too). The package is
installed under bench/out/wiremock; without Java the script installs Debian's
default-jre-headless with apt-get (as root), or says how to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import apps
import payloads
from common import (
    OUT,
    free_port,
    parser,
    ratio,
    require_wrk,
    rss_bytes,
    running,
    save,
    write_lines,
    wrk,
)

PACKAGE = "wiremock@3"
CONNECTIONS = (1, 8, 32)
STUB_BODY = {
    "event": {
        "seq": 1,
        "type": "track",
        "lead_id": None,
        "anonymous_id": "anon-1",
        "event": "Signed Up",
        "properties": payloads.properties(1),
        "attributes": None,
        "source": "tracker",
        "received_at": "2026-11-29T10:00:00.000Z",
    }
}


def ensure_java() -> str:
    """Return java's path, installing Debian's JRE with apt-get if it is missing."""
    java = shutil.which("java")
    if java:
        return java
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("bench: java is missing; installing default-jre-headless with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "default-jre-headless"],
            check=True,
            env=env,
        )
        java = shutil.which("java")
    if not java:
        raise SystemExit(
            "bench: WireMock needs Java; install a JRE (`apt-get install default-jre-headless` "
            "on Debian/Ubuntu) and rerun."
        )
    return java


def ensure_jar() -> Path:
    """Return the standalone jar from the npm package, installing it under bench/out."""
    prefix = OUT / "wiremock"
    jars = sorted(prefix.glob("node_modules/wiremock/build/wiremock-standalone-*.jar"))
    if not jars:
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("bench: npm is needed to install WireMock (the npm package wiremock).")
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), PACKAGE],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        jars = sorted(prefix.glob("node_modules/wiremock/build/wiremock-standalone-*.jar"))
    if not jars:
        raise SystemExit(f"bench: the npm package {PACKAGE} installed no standalone jar")
    return jars[-1]


def stub_root() -> Path:
    """Write WireMock's root dir with one mapping: the static answer to a tracker track."""
    root = OUT / "wiremock-root"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    mapping = {
        "request": {"method": "POST", "url": "/tracker/v1/track"},
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(STUB_BODY),
        },
    }
    (root / "mappings" / "track.json").write_text(json.dumps(mapping), encoding="utf-8")
    return root


def main() -> None:
    """Run the WireMock comparison and save bench/out/wiremock.json."""
    cli = parser(__doc__, "wiremock")
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    args = cli.parse_args()
    require_wrk()
    java, jar = ensure_java(), ensure_jar()
    bodies = write_lines("track.jsonl", payloads.lines("track", 2000))
    limit = 30 if args.tiny else None
    duration = 1 if args.tiny else args.duration
    emu_port, wm_port = free_port(), free_port()
    wm_argv = [
        java, "-jar", str(jar), "--port", str(wm_port), "--bind-address", "127.0.0.1",
        "--root-dir", str(stub_root()), "--disable-banner",
    ]  # fmt: skip
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with running("wiremock", wm_argv, wm_port, health="/__admin/health") as wm:
        wm_start = time.perf_counter() - started
        with running(
            "wiremock-emulator", apps.command("emulator", "product", emu_port), emu_port
        ) as emu:
            # The JVM compiles hot paths after a while; give both the same warm-up.
            for run in (wm, emu):
                wrk(run.url, "/tracker/v1/track", bodies, 8, 1 if args.tiny else 3, limit=limit)
            for connections in CONNECTIONS:
                for name, run in (("wiremock", wm), ("emulator", emu)):
                    figure = wrk(
                        run.url, "/tracker/v1/track", bodies, connections, duration, limit=limit
                    )
                    rows.append({"server": name, **figure})
            rss = {"wiremock": rss_bytes(wm.proc.pid), "emulator": rss_bytes(emu.proc.pid)}
    ratios = []
    for connections in CONNECTIONS:
        pick = {r["server"]: r for r in rows if r["connections"] == connections}
        ratios.append(
            {
                "connections": connections,
                "emulator_rps": pick["emulator"]["rps"],
                "wiremock_rps": pick["wiremock"]["rps"],
                "ratio": ratio(pick["emulator"]["rps"], pick["wiremock"]["rps"]),
            }
        )
    save(
        "wiremock",
        {
            "jar": jar.name,
            "wiremock_start_s": round(wm_start, 2),
            "rss_mb": {k: round(v / 2**20, 1) for k, v in rss.items()},
            "rows": rows,
            "ratios": ratios,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
