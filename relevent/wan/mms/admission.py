"""Who may hold one of libiec61850's MMS connection slots.

libiec61850 as shipped serves at most `LIBRARY_MAX_CONNECTIONS` (compiled in; its run-time setting can
only lower it), so every slot counts. A `ConnectionAdmission` follows the server's connections, on the
loop thread, and names the ones to close:

- at accept: one more than `per_peer` connections from one host; and when an accept takes the last slot,
  a connection not associated yet, so one slot always stays free for whoever connects next (SCADA among
  them): silent or reopened sockets can no longer hold every slot. The one closed is, first, one that
  had `IN_PROGRESS_S` to associate and did not (a silent socket), then one of the host that had most
  connections closed so (then: most not associated, then: the oldest), so a host that keeps reopening
  loses its own connection rather than pushing out another host's association in progress;
- at association: one more than `per_actor` associations of one actor, and a non-priority association
  (anonymous ones included) that would leave fewer than `reserved` slots to the `priority` actors.

`may_associate` answers the same question before the association completes, so an authenticator can
refuse it cleanly instead.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from relevent.config import MmsSection, default
from relevent.wan.mms.guard import Reason

LIBRARY_MAX_CONNECTIONS = 5  # CONFIG_MAXIMUM_TCP_CLIENT_CONNECTIONS of pyiec61850-ng's libiec61850
IN_PROGRESS_S = 1.0  # a client associates within a few round trips of its TCP accept, if at all
_HOSTS_REMEMBERED = 1024  # evictions are counted for at most so many hosts (then forgotten all at once)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The `[mms]` connection limits and the actors that `reserved` slots are kept for."""

    max_connections: int = LIBRARY_MAX_CONNECTIONS
    per_peer: int = default(MmsSection, "max_connections_per_peer")
    per_actor: int = default(MmsSection, "max_connections_per_actor")
    reserved: int = default(MmsSection, "reserved_connections")  # for the priority actors; none without one
    priority: frozenset[str] = frozenset()

    @property
    def associable(self) -> int:
        """How many connections may be associated at once: one slot stays free for the next client."""
        return self.max_connections - 1

    @property
    def for_others(self) -> int:
        """How many of them may belong to actors that are not priority (anonymous clients included)."""
        return self.associable - (self.reserved if self.priority else 0)


@dataclass(slots=True)
class _Slot:
    host: str
    opened: float  # monotonic
    associated: bool = False
    actor: str | None = None
    closing: bool = False  # named to close: it still holds a library slot, but counts for nothing else


@dataclass
class ConnectionAdmission(Generic[K]):
    """The open connections by key (oldest first), and the limits they are held to."""

    limits: ConnectionLimits
    clock: Callable[[], float] = time.monotonic
    _slots: dict[K, _Slot] = field(default_factory=dict)
    _evicted: dict[str, int] = field(default_factory=dict)  # host -> evictions, until one of it associates

    def opened(self, key: K, host: str) -> list[tuple[K, Reason]]:
        """Record a connection just accepted from `host`; return those to close now (it, or the oldest)."""
        now = self.clock()
        live = {k: slot for k, slot in self._slots.items() if not slot.closing}
        self._slots[key] = slot = _Slot(host, now)
        if sum(other.host == host for other in live.values()) >= self.limits.per_peer:
            slot.closing = True
            return [(key, "peer_limit")]
        if len(live) + 1 < self.limits.max_connections:
            return []
        # Associations stay below max_connections, so a connection not associated yet exists.
        pending = {k: s for k, s in self._slots.items() if not s.closing and not s.associated}
        waiting = Counter(s.host for s in pending.values())
        victim = max(pending, key=lambda k: (now - pending[k].opened > IN_PROGRESS_S,
                                              self._evicted.get(pending[k].host, 0), waiting[pending[k].host],
                                              now - pending[k].opened))  # fmt: skip
        evicted = self._slots[victim]
        evicted.closing = True
        if len(self._evicted) >= _HOSTS_REMEMBERED and evicted.host not in self._evicted:
            self._evicted.clear()
        self._evicted[evicted.host] = self._evicted.get(evicted.host, 0) + 1
        return [(victim, "evicted")]

    def may_associate(self, actor: str | None) -> bool:
        """Whether an association of `actor` (None: anonymous) would be kept now."""
        associated = [slot for slot in self._slots.values() if slot.associated]
        limits = self.limits
        if actor is not None and sum(slot.actor == actor for slot in associated) >= limits.per_actor:
            return False
        if actor in limits.priority:
            return len(associated) < limits.associable
        others = sum(slot.actor not in limits.priority for slot in associated)
        return others < limits.for_others and len(associated) < limits.associable

    def associated(self, key: K, actor: str | None) -> Reason | None:
        """Record that `key` associated as `actor`; a reason when it must be closed instead."""
        slot = self._slots.get(key)
        if slot is None or slot.closing:
            return None
        if not self.may_associate(actor):
            slot.closing = True
            return "actor_limit"
        slot.associated, slot.actor = True, actor
        self._evicted.pop(slot.host, None)
        return None

    def closing(self, key: K) -> bool:
        """Whether `key` was named to close (or is unknown: refused before it was recorded)."""
        slot = self._slots.get(key)
        return slot is None or slot.closing

    def refuse(self, key: K) -> None:
        """`key` is being closed for another reason: it counts for nothing any more."""
        if (slot := self._slots.get(key)) is not None:
            slot.closing = True

    def closed(self, key: K) -> None:
        """The connection `key` is gone."""
        self._slots.pop(key, None)
