"""The store's durable record: each write handed to its sink under the lock, flushed before the
answer (Store mixes it in). Without a data file the sink keeps nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from emulator.calls import JSON
from emulator.changes import AUDIENCES, CLOCK, Calls, Document, Replace, Reset, Sink
from emulator.clock import Clock
from emulator.model import Merchant, Touched


class DurableRecords:
    """Hand every write to the sink, in the order the lock made them, and wait for it."""

    clock: Clock
    _lock: threading.Lock
    _merchants: dict[str, Merchant]
    _sink: Sink = Sink()

    def attach(self, sink: Sink) -> None:
        """Record every later write in sink (whatever it holds is loaded already)."""
        with self._lock:
            self._sink = sink

    @property
    def durable(self) -> JSON | None:
        """Return where the state is kept durably ({"path", "sync"}), or None: memory only."""
        return self._sink.describe()

    def documents(self) -> dict[str, Any]:
        """Return the app-level documents the data file held at start ({} without one)."""
        return self._sink.documents()

    def put_document(self, name: str, body: Any) -> None:
        """Keep an app-level JSON document in the data file (None removes it), before answering.

        For state of the app's own that must survive a restart; without a data file it is a
        no-op. Read the documents back at start with documents().
        """
        with self._writing():
            self._sink.write(Document(name, body))

    def close_data_file(self) -> None:
        """Commit what is queued and let the data file go; later writes are refused."""
        self._sink.close()

    def note_clock(self) -> None:
        """Record the clock's offset, which has just moved."""
        with self._writing():
            self._record_clock()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the lock for a write; once it is released, wait until the write is durable."""
        with self._lock:
            self._sink.check()
            yield
        self._sink.flush()

    # -- under the lock -------------------------------------------------------------------

    def _touch(self, merchant: Merchant) -> Touched | None:
        """Have the merchant note what the calls about to be applied touch, if recorded."""
        if not self._sink.recording:
            return None
        touched = merchant.touched = Touched()
        return touched

    def _record_calls(self, merchant: Merchant, touched: Touched | None) -> None:
        if touched is not None:
            merchant.touched = None
            self._sink.write(Calls(merchant, touched))

    def _record_audiences(self, merchant_id: str) -> None:
        """Record a merchant's computed audiences as they are now (the merchant with them)."""
        merchant = self._merchants.get(merchant_id)
        if merchant is None or not self._sink.recording:
            return
        self._sink.write(Calls(merchant, Touched()))  # the merchant itself, if it is new
        body = [a.to_json() for a in merchant.computed.values()] or None
        self._sink.write(Document(AUDIENCES + merchant_id, body))

    def _record_reset(self, merchant_id: str | None, gone: Iterable[Merchant]) -> None:
        self._sink.write(Reset(merchant_id))
        for merchant in gone:
            if merchant.computed:
                self._sink.write(Document(AUDIENCES + merchant.id, None))

    def _record_load(
        self, built: Mapping[str, Merchant], replace: bool, before: Mapping[str, Merchant]
    ) -> None:
        if not self._sink.recording:
            return
        self._sink.write(Replace(built, replace))
        for merchant_id, merchant in before.items():
            if merchant.computed and (merchant_id in built or replace):
                self._sink.write(Document(AUDIENCES + merchant_id, None))
        for merchant_id in built:
            if built[merchant_id].computed:
                self._record_audiences(merchant_id)
        self._record_clock()

    def _record_clock(self) -> None:
        self._sink.write(Document(CLOCK, {"offset_ms": self.clock.offset_ms}))
