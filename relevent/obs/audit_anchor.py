"""The audit trail's anchor: its head (seq and MAC) kept outside the database, MAC'd with the audit key.

The gateway rewrites the anchor file shortly after a burst of appends (`ANCHOR_AFTER_S`) and logs the
head as an `audit head` journal line at every start and every `HEAD_EVERY` entries. A trail whose newest
rows were deleted, or that was deleted whole, no longer reaches the anchor's row; one restored from an
older copy misses the journal's head.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

from relevent.obs.audit_store import AuditError, AuditStore, Link, first_broken

ANCHOR_FILE = "audit.anchor"
HEAD_EVERY = 100
ANCHOR_AFTER_S = 0.1  # the anchor may lag the trail by this much, never lead it
TRUNCATED = "truncated"  # the result of the row the gateway chains when it finds the trail cut short


class Anchor:
    """The anchor file next to the trail."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    def write(self, head: Link) -> None:
        """Replace the anchor with `head` (atomically: a reader sees the old or the new one); OSError.

        Synced before the rename: after a power loss the anchor is whole and never ahead of the database
        (committed first), so a start never mistakes a lost anchor for a cut trail.
        """
        text = json.dumps({"seq": head.seq, "mac": head.mac, "tag": head.tag(self._key, "anchor")})
        part = self.path.with_name(self.path.name + ".part")
        with part.open("w", encoding="ascii") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        part.replace(self.path)

    def read(self) -> Link | None:
        """The anchored head; None when there is no anchor; `AuditError` when it is not the key's."""
        try:
            fields = json.loads(self.path.read_text(encoding="ascii"))
            head, tag = Link(int(fields["seq"]), str(fields["mac"])), str(fields["tag"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"audit anchor {self.path} is unreadable: {exc}") from None
        if not hmac.compare_digest(tag, head.tag(self._key, "anchor")):
            raise AuditError(f"audit anchor {self.path} was modified (its MAC does not match)")
        return head


def short_of(store: AuditStore, head: Link, what: str) -> str | None:
    """What is wrong when the trail does not hold `head` (from the anchor or the journal), else None."""
    if head.seq <= store.checkpoint.seq:  # removed by retention since: the checkpoint vouches for it
        return None
    mac = store.mac_of(head.seq)
    if mac is None:
        return f"rows are missing: {what} names row {head.seq}, the trail ends at row {store.head.seq}"
    if not hmac.compare_digest(mac, head.mac):
        return f"row {head.seq} is not the one {what} names (the trail was rewritten from there)"
    return None


def anchor_problem(store: AuditStore, anchor: Anchor) -> str | None:
    """What is wrong when the trail does not reach its anchor, else None."""
    try:
        head = anchor.read()
    except AuditError as exc:
        return str(exc)
    if head is None:  # only a trail just keyed by this start has rows and no anchor yet
        return None if store.head.seq == 0 or store.rekeyed else f"the audit anchor {anchor.path} is missing"
    return short_of(store, head, "the anchor")


def verify(store: AuditStore, key: bytes, anchor: Anchor, journal_head: Link | None = None) -> str | None:
    """The first problem of the trail, None when it is intact.

    Its chain, its anchor, the head taken from the journal, then any cut the gateway found at a start.
    """
    problem = first_broken(store, key) or anchor_problem(store, anchor)
    if problem is None and journal_head is not None:
        problem = short_of(store, journal_head, "the journal's head")
    if problem is None:
        cut = next((row for row in store.rows() if row.entry.result == TRUNCATED), None)
        problem = f"row {cut.seq} records that the trail was cut short: {cut.entry.reason}" if cut else None
    return problem
