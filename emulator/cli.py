"""Command line: serve (the default) and ready; every flag has a WISHPOND_EMULATOR_* variable."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.errors import EmulatorError
from emulator.settings import Settings, parse_pairs

ENV_PREFIX = "WISHPOND_EMULATOR_"


@dataclass(frozen=True)
class Option:
    """One CLI flag and its environment variable."""

    flag: str
    help: str
    type: Callable[[str], Any] = str
    repeat: bool = False
    switch: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.dest.upper()


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


SERVE_OPTIONS = (
    Option("--host", "address to bind (default 127.0.0.1; the container uses 0.0.0.0)"),
    Option("--port", "port to bind (default 9474; 0 picks a free one)", int),
    Option("--merchant", "ID:KEY of a merchant; repeatable; turns on strict mode", repeat=True),
    Option("--source", "WRITE_KEY:MERCHANT_ID of a Segment source; repeatable", repeat=True),
    Option("--max-events", "cap on stored events across merchants (default 1000000)", int),
    Option("--journal-size", "request journal entries kept (default 10000)", int),
    Option("--max-body-bytes", "largest accepted request body (default 1048576)", int),
    Option("--admin-token", "require 'Authorization: Bearer TOKEN' on /_emulator/*"),
    Option("--import", "state file or fixture to load at start"),
    Option("--export-on-exit", "write the state to this file on SIGTERM or Ctrl-C"),
    Option("--threads", "worker threads (default 32)", int),
    Option("--max-wait", "longest long-poll wait in seconds (default 60)", float),
    Option("--quiet", "print nothing but errors", switch=True),
    Option(
        "--segment-responses",
        "faithful (default): /v1 drops bad messages alone, as Segment; strict: 400 for any",
    ),
    Option("--data-file", "SQLite file that keeps the state across restarts and crashes"),
    Option("--data-sync", "normal (default): survives a crash; full: survives power loss too"),
    Option("--import-mode", "replace or merge: what --import does to a data file holding data"),
)
READY_OPTIONS = (
    Option("--url", "emulator URL (default from --host/--port)"),
    Option("--timeout", "seconds to keep trying (default 10)", float),
    Option("--host", "host to check when --url is not given"),
    Option("--port", "port to check when --url is not given", int),
    Option("--admin-token", "bearer token for the health check"),
)
# The flag names (and env names) of --merchant and --source are singular; the
# environment variables are plural lists, as in WISHPOND_EMULATOR_MERCHANTS=a:1,b:2.
PLURAL_ENV = {"merchant": ENV_PREFIX + "MERCHANTS", "source": ENV_PREFIX + "SOURCES"}


def _add(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    for opt in options:
        env = PLURAL_ENV.get(opt.dest, opt.env)
        help_text = f"{opt.help} [env {env}]"
        if opt.switch:
            parser.add_argument(opt.flag, action="store_true", default=None, help=help_text)
        elif opt.repeat:
            parser.add_argument(opt.flag, action="append", default=None, help=help_text)
        else:
            parser.add_argument(opt.flag, type=opt.type, default=None, help=help_text)


def _resolve(
    ns: argparse.Namespace, options: Sequence[Option], environ: dict[str, str]
) -> dict[str, Any]:
    """Merge flags over environment variables; unset stays absent."""
    out: dict[str, Any] = {}
    for opt in options:
        value = getattr(ns, opt.dest)
        env = PLURAL_ENV.get(opt.dest, opt.env)
        if value is None and environ.get(env, "") != "":
            raw = environ[env]
            try:
                value = [raw] if opt.repeat else _truthy(raw) if opt.switch else opt.type(raw)
            except ValueError:
                raise EmulatorError(
                    "invalid_setting", f"{env}={raw!r} is not a valid value."
                ) from None
        if value is not None:
            out[opt.dest] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for both subcommands."""
    parser = argparse.ArgumentParser(
        prog="wishpond-emulator",
        description="A local, stateful emulator of Wishpond's marketing tracker.",
    )
    from emulator import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")
    _add(sub.add_parser("serve", help="run the emulator (the default)"), SERVE_OPTIONS)
    _add(sub.add_parser("ready", help="exit 0 once the emulator answers health"), READY_OPTIONS)
    return parser


def settings_from(values: dict[str, Any]) -> Settings:
    """Build Settings from resolved flag values."""
    kwargs: dict[str, Any] = {}
    for key in (
        "host",
        "port",
        "max_events",
        "journal_size",
        "max_body_bytes",
        "admin_token",
        "export_on_exit",
        "threads",
        "max_wait",
        "quiet",
        "segment_responses",
        "data_file",
        "data_sync",
        "import_mode",
    ):
        if key in values:
            kwargs[key] = values[key]
    if "import" in values:
        kwargs["import_path"] = values["import"]
    if "merchant" in values:
        kwargs["merchants"] = parse_pairs(values["merchant"], "--merchant")
    if "source" in values:
        kwargs["sources"] = parse_pairs(values["source"], "--source")
    return Settings(**kwargs)


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["serve", *argv]
    ns = build_parser().parse_args(argv)
    try:
        if ns.command == "ready":
            return ready(_resolve(ns, READY_OPTIONS, environ))
        return serve(settings_from(_resolve(ns, SERVE_OPTIONS, environ)))
    except EmulatorError as exc:
        print(f"wishpond-emulator: {exc.message}", file=sys.stderr)
        return 2


def serve(settings: Settings) -> int:
    """Serve until SIGTERM or Ctrl-C, then drain and optionally export."""
    from emulator import create_app
    from emulator.server import Server
    from emulator.snapshot import load_state_file, write_atomically

    app = create_app(settings)
    emu = app.extensions["wishpond_emulator"]
    if settings.import_path:
        gc.disable()  # millions of new objects, none of them garbage: don't scan them mid-load
        try:
            emu.store.load(load_state_file(settings.import_path), replace=_replaces(settings, emu))
        finally:
            gc.enable()
    # What exists now lives until exit; keep it out of every later collection.
    gc.freeze()
    server = Server(app, settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        server.wake()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not settings.quiet:
        print(f"wishpond-emulator ready on {server.url}", flush=True)
    server.run_until(stop)
    emu.store.close()
    server.drain()
    if settings.export_on_exit:
        write_atomically(settings.export_on_exit, emu.store.export())
    emu.store.close_data_file()
    return 0


def _replaces(settings: Settings, emu: Any) -> bool:
    """Return whether --import replaces the state; refuse to guess over a data file's data."""
    if settings.import_mode is None and settings.data_file and emu.store.merchants():
        raise EmulatorError(
            "invalid_setting",
            f"--data-file {settings.data_file} holds data already, so say what --import "
            f"{settings.import_path} does with it: --import-mode replace (the import replaces "
            "it) or --import-mode merge (the import replaces only the merchants it names).",
        )
    return settings.import_mode != "merge"


def ready(values: dict[str, Any]) -> int:
    """Poll health until it answers 200 or the timeout passes."""
    url = values.get("url")
    if not url:
        host = values.get("host", "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        url = f"http://{host}:{values.get('port', 9474)}"
    health = url.rstrip("/") + "/_emulator/health"
    request = urllib.request.Request(health)
    if values.get("admin_token"):
        request.add_header("Authorization", f"Bearer {values['admin_token']}")
    deadline = time.monotonic() + values.get("timeout", 10.0)
    last = "no answer"
    while True:
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                if response.status == 200:
                    return 0
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            print(f"wishpond-emulator: not ready at {health}: {last}", file=sys.stderr)
            return 1
        time.sleep(0.02)  # a refused connect costs little; answer soon after the server is up
