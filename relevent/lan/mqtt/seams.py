"""The MQTT driver's own seams to the rest of the gateway: EMS extension requests and spoofing evidence.

Intents, plans, health and measurements pass through the device layer (`relevent/lan/driver.py`); what
only MQTT carries goes through the small protocols here, which the composition root implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from relevent.scheduler.values import Timestamp


class SpoofingSink(Protocol):
    """Where evidence of a device speaking for another goes (the audit trail)."""

    def on_spoofed(self, device_id: str, sent_to: str, topic: str) -> None:
        """`topic`, of `device_id`, carried an answer to a command only `sent_to` received.

        The broker's ACL should stop this; seeing it means the ACL is missing or a credential is shared.
        """
        ...


@dataclass(frozen=True)
class ExtensionRequest:
    """A local EMS asks for a schedule (HEDERA-style): `values` in W, magnitudes, one per interval.

    `start` None means "start now"; `direction` IMPORT is consumption, EXPORT injection.
    """

    direction: Literal["IMPORT", "EXPORT"]
    start: Timestamp | None
    interval_s: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class ExtensionAccepted:
    """The request became a schedule in `slot` (an FSCH reference)."""

    slot: str


@dataclass(frozen=True)
class ExtensionRejected:
    """The request was refused; `reason` is a short machine-readable code (`no_free_slot`, ...)."""

    reason: str


class ExtensionRequestHandler(Protocol):
    """Turns an EMS extension request into scheduler commands."""

    async def submit(self, request: ExtensionRequest) -> ExtensionAccepted | ExtensionRejected:
        """Place the request; answer with the slot or a reason."""
        ...
