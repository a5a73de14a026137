"""Command line: serve (the default) and ready; every flag has a WISHPOND_EMULATOR_* variable."""

from __future__ import annotations

import argparse
import gc
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from emulator.errors import EmulatorError
from emulator.settings import Settings, parse_pairs, split_list

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


def _whole(value: str) -> int:
    """Return value as an int, or say it is not a whole number."""
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:40]!r} is not a whole number") from None


def _number(value: str) -> float:
    """Return value as a float, or say it is not a number."""
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:40]!r} is not a number") from None


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


SERVE_OPTIONS = (
    Option("--host", "address to bind (default 127.0.0.1; the container uses 0.0.0.0)"),
    Option("--port", "port to bind (default 9474; 0 picks a free one)", _whole),
    Option("--merchant", "ID:KEY of a merchant; repeatable; turns on strict mode", repeat=True),
    Option("--source", "WRITE_KEY:MERCHANT_ID of a Segment source; repeatable", repeat=True),
    Option("--max-events", "cap on stored events across merchants (default 1000000)", _whole),
    Option("--journal-size", "request journal entries kept (default 10000)", _whole),
    Option("--max-body-bytes", "largest accepted request body (default 1048576)", _whole),
    Option("--admin-token", "require 'Authorization: Bearer TOKEN' on /_emulator/*"),
    Option("--import", "state file or fixture to load at start"),
    Option("--export-on-exit", "write the state to this file on SIGTERM or Ctrl-C"),
    Option(
        "--threads", "worker threads (default 32; long-polls park on threads of their own)", _whole
    ),
    Option("--max-wait", "longest long-poll wait in seconds (default 60)", _number),
    Option("--quiet", "print nothing but errors", switch=True),
    Option(
        "--segment-responses",
        "faithful (default): /v1 drops bad messages alone, as Segment; strict: 400 for any",
    ),
    Option(
        "--allowed-host",
        "host name the admin API and dashboard answer besides loopback ones; repeatable; * for any",
        repeat=True,
    ),
    Option("--journal-max-bytes", "request journal memory bound (default 67108864)", _whole),
    Option("--journal-body-bytes", "request body bytes the journal keeps (default 16384)", _whole),
    Option(
        "--tracking-plan",
        "a Segment tracking plan JSON file for every merchant, or MERCHANT=FILE for one; "
        "repeatable (the variable takes a comma-separated list)",
        repeat=True,
    ),
    Option(
        "--seed", "seed of fault rules' probability draws, to repeat a run (default random)", _whole
    ),
    Option("--data-file", "SQLite file that keeps the state across restarts and crashes"),
    Option("--data-sync", "normal (default): survives a crash; full: survives power loss too"),
    Option("--import-mode", "replace or merge: what --import does to a data file holding data"),
)
READY_OPTIONS = (
    Option("--url", "emulator URL (default from --host/--port)"),
    Option("--timeout", "seconds to keep trying (default 10)", _number),
    Option("--host", "host to check when --url is not given"),
    Option("--port", "port to check when --url is not given", _whole),
    Option("--admin-token", "bearer token for the health check"),
)
# The flag names (and env names) of --merchant and --source are singular; the
# environment variables are plural lists, as in WISHPOND_EMULATOR_MERCHANTS=a:1,b:2.
PLURAL_ENV = {
    "merchant": ENV_PREFIX + "MERCHANTS",
    "source": ENV_PREFIX + "SOURCES",
    "allowed_host": ENV_PREFIX + "ALLOWED_HOSTS",
}
KINDS: dict[Any, str] = {_whole: "whole number", _number: "number"}


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the problem and where help is, then exit 2."""
        self.exit(2, f"wishpond-emulator: {message}; see {self.prog} --help.\n")


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
    ns: argparse.Namespace,
    options: Sequence[Option],
    environ: dict[str, str],
    from_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Merge flags over environment variables; unset stays absent.

    from_env, when given, gets flag -> variable for each value an environment variable gave.
    """
    out: dict[str, Any] = {}
    for opt in options:
        value = getattr(ns, opt.dest)
        env = PLURAL_ENV.get(opt.dest, opt.env)
        # An empty token would silently open the admin API; say so instead of ignoring it.
        given = environ.get(env, "") != "" or (opt.dest == "admin_token" and env in environ)
        if value is None and given:
            raw = environ[env]
            try:
                value = [raw] if opt.repeat else _truthy(raw) if opt.switch else opt.type(raw)
            except (ValueError, argparse.ArgumentTypeError):
                kind = KINDS.get(opt.type, "valid value")
                raise EmulatorError(
                    "invalid_setting",
                    f"{env}={raw[:40]!r} is not a {kind}; set it to a {kind}, or unset it.",
                ) from None
            if from_env is not None:
                from_env[opt.flag] = env
        if value is not None:
            out[opt.dest] = value
    return out


def _as_given(message: str, from_env: dict[str, str]) -> str:
    """Name the environment variable instead of the flag for each setting it gave."""
    for flag, env in from_env.items():
        message = re.sub(re.escape(flag) + r"(?![\w-])", env, message)
    return message


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for both subcommands."""
    parser = _Parser(
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
        "journal_max_bytes",
        "journal_body_bytes",
        "seed",
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
        kwargs["sources"] = parse_pairs(
            values["source"], "--source", "WRITE_KEY:MERCHANT_ID", "wk_live_123:m1"
        )
    if "allowed_host" in values:
        kwargs["allowed_hosts"] = tuple(split_list(values["allowed_host"]))
    if "tracking_plan" in values:
        kwargs["tracking_plans"] = tuple(split_list(values["tracking_plan"]))
    return Settings(**kwargs)


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["serve", *argv]
    ns = build_parser().parse_args(argv)
    from_env: dict[str, str] = {}
    try:
        if ns.command == "ready":
            return ready(_resolve(ns, READY_OPTIONS, environ, from_env))
        return serve(settings_from(_resolve(ns, SERVE_OPTIONS, environ, from_env)))
    except EmulatorError as exc:
        print(f"wishpond-emulator: {_as_given(exc.message, from_env)}", file=sys.stderr)
        return 2


def serve(settings: Settings) -> int:
    """Serve until SIGTERM or Ctrl-C, then drain and optionally export."""
    from emulator import create_app
    from emulator.server import Server
    from emulator.snapshot import load_state_file, prepare_export, write_atomically

    app = create_app(settings)
    emu = app.extensions["wishpond_emulator"]
    if settings.export_on_exit:
        prepare_export(settings.export_on_exit)  # found now, not at exit with the state lost
    if settings.import_path:
        gc.disable()  # millions of new objects, none of them garbage: don't scan them mid-load
        try:
            emu.store.load(load_state_file(settings.import_path), replace=_replaces(settings, emu))
        finally:
            gc.enable()
    # What exists now lives until exit; keep it out of every later collection.
    gc.freeze()
    server = Server.bind(app, settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        server.wake()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not settings.quiet:
        print(f"wishpond-emulator ready on {server.url}", flush=True)
    server.run_until(stop)
    emu.close()
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
            if exc.code == 401:
                # Retrying cannot help: the server is up and wants a token.
                given = "admin_token" in values
                raise EmulatorError(
                    "invalid_setting",
                    f"{health} answered 401: "
                    + (
                        "the --admin-token given does not match the server's; pass the token "
                        "the server was started with."
                        if given
                        else "the server needs its admin token; pass --admin-token TOKEN (or set "
                        "WISHPOND_EMULATOR_ADMIN_TOKEN)."
                    ),
                ) from None
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            print(f"wishpond-emulator: not ready at {health}: {last}", file=sys.stderr)
            return 1
        time.sleep(0.02)  # a refused connect costs little; answer soon after the server is up
