"""Apply fault rules to surface calls: answer in the emulator's place, late, after applying, or
not at all.

A surface calls `at_merchant(note)` once it knows the call's merchant and before it applies
anything; `journaled` calls `settle` with what the view did, and journals what it returns.
"""

from __future__ import annotations

import contextlib
import time

from flask import Response, current_app, json, request

from emulator.errors import EmulatorError, error_response
from emulator.faults import DROP_ENVIRON, NO_BODY, Target, Verdict
from emulator.journal import Note

# The request's verdict, once the rules were consulted (None: no rule faulted it).
VERDICT = "wishpond_emulator.fault"
# Blueprints whose calls the rules see even when they fail before naming a merchant.
EARLY = ("tracker", "segment")


class Faulted(Exception):
    """Raised at the fault point: the rule answers now, and the call is not applied."""


def at_merchant(note: Note) -> None:
    """Consult the fault rules for this call (once); wait, and raise Faulted to answer now."""
    environ = request.environ
    if VERDICT in environ:
        return
    book = current_app.extensions["wishpond_emulator"].faults
    verdict = None
    if book.active:  # the usual case is no rules at all: nothing to build
        verdict = book.pick(Target(note.surface, request.method, request.path, note.merchant_id))
    environ[VERDICT] = verdict
    if verdict is None:
        return
    note.fault_id = verdict.rule_id
    if verdict.delay_ms:
        time.sleep(verdict.delay_ms / 1000)
    if verdict.answers_now:
        raise Faulted(verdict.rule_id)


def settle(note: Note, error: EmulatorError | None) -> tuple[Response, int] | None:
    """Return the answer a fault puts in place of the call's own, and the status to journal.

    None keeps the call's own answer. A call that failed before its merchant was known still
    meets the rules (an outage answers whatever it is sent); a dropped connection is journaled
    with status 0, since no answer is sent.
    """
    environ = request.environ
    if VERDICT not in environ and error is not None and request.blueprint in EARLY:
        with contextlib.suppress(Faulted):  # answered below either way
            at_merchant(note)
    verdict: Verdict | None = environ.get(VERDICT)
    if verdict is None:
        return None
    note.summary = verdict.describe() + (f" · {note.summary}" if note.summary else "")
    if verdict.drop is not None:
        environ[DROP_ENVIRON] = True
        return _dropped(verdict), 0
    if verdict.status is None:  # only late: the call's own answer
        return None
    answer = _answer(verdict)
    return answer, answer.status_code


def _answer(verdict: Verdict) -> Response:
    status = verdict.status
    assert status is not None
    if verdict.has_body:
        response = Response(status=status)
        if status not in NO_BODY:
            response.set_data(json.dumps(verdict.body))
            response.mimetype = "application/json"
    elif status >= 400:
        response = error_response(
            EmulatorError(
                "injected_fault",
                f"Fault rule {verdict.rule_id} answered {status} in the emulator's place; "
                "remove it with DELETE /_emulator/faults/" + verdict.rule_id + ".",
                status,
            )
        )
    else:
        response = Response("{}", status=status, mimetype="application/json")
    response.headers.update(verdict.headers)
    return response


def _dropped(verdict: Verdict) -> Response:
    """Return what a server that cannot drop connections sends instead (the emulator's never)."""
    return error_response(
        EmulatorError(
            "connection_dropped",
            f"Fault rule {verdict.rule_id} drops this connection without an answer; "
            "`wishpond-emulator serve` closes it unanswered.",
            503,
        )
    )
