"""Which schedule an uncertain POST created at HEDERA, so it is adopted instead of posted a second time.

A POST that timed out or lost its connection may have been stored, and HEDERA knows no idempotency key.
So the live schedules (Pending, Accepted) are listed, every page, and those the adapter does not own yet
are read: the one that lists the own inter-tie with the period asked for is it. HEDERA's Pending answer may
omit the inter-ties (and so the period); such a schedule is taken when it was created since the POST was
first sent (give or take `clock_skew_s`) and it is the only one. Several of them, or a candidate still
answering 404 just after the POST, are read again every `poll_interval_s` until HEDERA shows more; a
question still open at the deadline raises `PostUnresolvedError`, never a second POST.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import Enum

import structlog

from relevent.wan.hedera.client import (
    HederaAuthError,
    HederaClient,
    HederaError,
    HederaRefusedError,
    HederaUnavailableError,
)
from relevent.wan.hedera.codec import HederaProtocolError, ScheduleAnswer, ScheduleState, schedule_answer
from relevent.wan.hedera.config import HederaSection

log = structlog.get_logger(__name__)

LIVE = ("Accepted", "Pending")


class PostUnresolvedError(HederaError):
    """Whether (or which) schedule an uncertain POST created could not be told before the deadline."""


@dataclass(frozen=True)
class PostAttempt:
    """What a POST asked for (the inter-tie, the period as sent) and when it was first sent."""

    mrid: str
    start: float
    resolution_s: int
    n: int
    sent_at: float

    @classmethod
    def of(cls, mrid: str, start: float, resolution_s: int, n: int, sent_at: float) -> PostAttempt:
        """The attempt of a request; the start as the POST body carries it (whole seconds)."""
        return cls(mrid, float(math.floor(start)), resolution_s, n, sent_at)


class PostMatch(Enum):
    """How a schedule at HEDERA relates to an uncertain POST."""

    SAME = "same"  # the own inter-tie with the period asked for
    LIKELY = "likely"  # pending without inter-ties, created since the POST was sent
    UNSETTLED = "unsettled"  # not readable yet (404 just after the POST, or out of reach): read again
    OTHER = "other"


def post_match(attempt: PostAttempt, answer: ScheduleAnswer, now: float, skew_s: float) -> PostMatch:
    """Whether the schedule `answer` shows is the one `attempt` may have created."""
    if attempt.mrid in answer.inter_ties:
        grant = answer.grant
        period = (grant.start, grant.resolution_s, len(grant.values)) if grant is not None else None
        same = period == (attempt.start, attempt.resolution_s, attempt.n)
        return PostMatch.SAME if same else PostMatch.OTHER
    if answer.inter_ties or answer.state is not ScheduleState.PENDING or answer.updated is None:
        return PostMatch.OTHER  # another inter-tie's, decided without us, or nothing to tell it by
    created = answer.updated  # a Pending schedule has not changed since it was created
    return PostMatch.LIKELY if attempt.sent_at - skew_s <= created <= now + skew_s else PostMatch.OTHER


class PostFinder:
    """Finds what an uncertain POST stored, against the paged list and reads of the candidates."""

    def __init__(self, client: HederaClient, section: HederaSection, clock: Callable[[], float]) -> None:
        self._client = client
        self._section = section
        self._clock = clock

    async def find(self, attempt: PostAttempt, known: Collection[str], deadline: float) -> str | None:
        """The schedule `attempt` created, or None when HEDERA surely holds none (posting again is safe).

        `known`: the schedules the adapter owns already, never candidates. Raises `HederaError` when
        HEDERA cannot be asked, `PostUnresolvedError` when the answer is still open at `deadline`.
        """
        while True:
            found = await self._look(attempt, known, deadline)
            same = found.get(PostMatch.SAME, [])
            likely = found.get(PostMatch.LIKELY, [])
            unsettled = found.get(PostMatch.UNSETTLED, [])
            if same:
                if len(same) > 1:
                    log.warning("several HEDERA schedules match an uncertain POST: the first is adopted",
                                schedules=same)  # fmt: skip
                return same[0]
            if len(likely) == 1 and not unsettled:
                log.info("an uncertain POST adopted by its creation time (HEDERA shows no period yet)",
                         schedule=likely[0], mrid=attempt.mrid)  # fmt: skip
                return likely[0]
            if not likely and not unsettled:
                return None
            wait = self._section.poll_interval_s
            if self._clock() + wait >= deadline:
                raise PostUnresolvedError(
                    f"an uncertain POST could not be told apart at HEDERA: candidates {[*likely, *unsettled]}"
                )
            log.info("an uncertain POST is not settled yet: reading again", likely=likely,
                     unsettled=unsettled)  # fmt: skip
            await asyncio.sleep(wait)

    async def _look(
        self, attempt: PostAttempt, known: Collection[str], deadline: float
    ) -> dict[PostMatch, list[str]]:
        """The live schedules not owned yet, by how they match `attempt`."""
        found: dict[PostMatch, list[str]] = {}
        for schedule_id, _ in await self._client.list_schedules(LIVE, deadline):
            if schedule_id not in known:
                match = await self._judge(attempt, schedule_id, deadline)
                found.setdefault(match, []).append(schedule_id)
        return found

    async def _judge(self, attempt: PostAttempt, schedule_id: str, deadline: float) -> PostMatch:
        section = self._section
        try:
            answer = await self._client.get_schedule(
                schedule_id, min(deadline, self._clock() + section.total_timeout_s)
            )
            read = schedule_answer(answer.body if isinstance(answer.body, dict) else {}, attempt.mrid)
        except HederaRefusedError as exc:
            fresh = exc.status == 404 and self._clock() < attempt.sent_at + section.post_grace_s
            return PostMatch.UNSETTLED if fresh else PostMatch.OTHER  # later: listed but gone
        except HederaUnavailableError:
            return PostMatch.UNSETTLED
        except HederaAuthError:
            raise  # nothing can be read: the caller fails, it does not post again
        except (HederaError, HederaProtocolError) as exc:
            log.warning("a listed HEDERA schedule could not be read", schedule=schedule_id, error=str(exc))
            return PostMatch.OTHER
        return post_match(attempt, read, self._clock(), section.clock_skew_s)
