"""What a repeated call is answered with: what its first copy made (the Store mixes it in)."""

from __future__ import annotations

import threading
from itertools import islice

from emulator.calls import JSON, Call
from emulator.model import MESSAGE_ID_WINDOW, Merchant


class Repeats:
    """Find, for a call whose message id a merchant already holds, what the first copy made."""

    _lock: threading.Lock
    _merchants: dict[str, Merchant]

    def repeat_of(self, merchant_id: str, call: Call) -> tuple[JSON | None, JSON | None]:
        """Return (lead, event): the lead an identify names as it is now, and the first event.

        The event is looked for among the merchant's newest events (a retry follows its first
        copy closely); None when the id was held by a message that made no event.
        """
        with self._lock:
            merchant = self._merchants.get(merchant_id)
            if merchant is None:
                return None, None
            lead = merchant.leads.get(call.lead_id or "") if call.type == "identify" else None
            event = next(
                (
                    e
                    for e in islice(reversed(merchant.events), MESSAGE_ID_WINDOW)
                    if e.message_id == call.message_id
                ),
                None,
            )
            return (
                lead.to_json() if lead is not None else None,
                event.to_json() if event is not None else None,
            )
