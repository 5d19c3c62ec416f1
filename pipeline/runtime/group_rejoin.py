"""How an aiokafka group member rejoins: keep its id on a stale generation, retry an empty sync.

Two defects of aiokafka 0.14.0's group coordinator, each harmless on Apache Kafka most of the
time and each able to hang a group on noida-db 0.2.3 (the embedded broker), fixed where the
upstream client would fix them:

1. **A stale generation drops the member id.** A heartbeat, offset commit or SyncGroup answered
   with ILLEGAL_GENERATION (the group moved on while this member was busy, as happens to the
   first worker when a second joins) makes aiokafka forget its member id and join as a new
   member. The old id stays in the group until the broker expires its session: on Kafka the
   rebalance waits for it that long; noida-db never expires it (the conformance check ``dead
   member evicted``), elects it leader, and the real members wait for an assignment that never
   comes. Two plain aiokafka consumers of one group, the second started while the first was
   committing, hung like that 3 times in 3 here. Apache Kafka's Java client has kept the member
   id on ILLEGAL_GENERATION since KAFKA-13419 (only the generation is reset; UNKNOWN_MEMBER_ID
   still resets both): ``reset_generation`` does the same when the coordinator's last answer
   said ILLEGAL_GENERATION and nothing said UNKNOWN_MEMBER_ID.

2. **An empty SyncGroup assignment kills the coordinator.** A broker answers a member's
   SyncGroup with no assignment bytes when the leader's assignment did not name it (Tansu's
   coordinator, by its public issue tracker, also when the leader's SyncGroup is slower than a
   fixed wait; noida-db held a follower's sync for a leader 5 s late, and answered a 12 s one
   with an error after 10 s, not with empty bytes). aiokafka decodes the empty bytes as an
   assignment, fails (``unpack requires a buffer of 2 bytes``), and its coordinator routine
   dies: the worker never gets partitions and never says why (seen once in 136 bench runs, a
   four-worker group's first join on noida-db; how that leader came to leave two members out
   was not found). Taking the empty bytes as "no partitions" would leave whatever the leader
   meant for this member unread until the next rebalance; the member asks for a new one
   instead: it rejoins, as after any failed sync. (An assignor that names every member, as
   faust's and aiokafka's do, is assumed: one that leaves members out on purpose would make
   them rejoin again and again.)

``apply()`` refuses an aiokafka version it was not written against.
"""

from __future__ import annotations

import logging
from typing import Any

import aiokafka
import aiokafka.errors as errors
from aiokafka.consumer.group_coordinator import CoordinatorGroupRebalance, GroupCoordinator
from aiokafka.protocol.commit import OffsetCommitRequest

from pipeline.runtime.patch_guard import require_version

log = logging.getLogger(__name__)

PATCHED_VERSIONS = frozenset({"0.14.0"})
_ORIGINAL_SEND = GroupCoordinator._send_req
_ORIGINAL_RESET = GroupCoordinator.reset_generation
_ORIGINAL_SYNC = CoordinatorGroupRebalance._send_sync_group_request
#: Set on a coordinator by its latest answer: the next ``reset_generation`` keeps the member id.
_KEEP_MEMBER_ID = "_crisiswatch_keep_member_id"


#: The answers whose ILLEGAL_GENERATION aiokafka handles with ``reset_generation``.
_HEARTBEAT, _SYNC_GROUP, _OFFSET_COMMIT = 12, 14, 8


def _error_codes(response: Any) -> set[int]:
    """The error codes of a heartbeat, SyncGroup or OffsetCommit answer (one per partition for
    a commit); none for any other (an OffsetFetch answer's partitions carry offsets there)."""
    api_key = getattr(response, "API_KEY", None)
    if api_key in (_HEARTBEAT, _SYNC_GROUP):
        return {response.error_code}
    if api_key == _OFFSET_COMMIT:
        return {code for _topic, partitions in response.topics for _partition, code in partitions}
    return set()


def keeps_member_id(response: Any) -> bool:
    """Whether this answer only says the generation is stale (KAFKA-13419)."""
    codes = _error_codes(response)
    return (
        errors.IllegalGenerationError.errno in codes
        and errors.UnknownMemberIdError.errno not in codes
    )


async def _send_req(self: Any, request: Any) -> Any:
    # The handlers of heartbeat, commit and sync answers call reset_generation right after
    # reading them, with no await in between: the latest answer is the one being handled.
    setattr(self, _KEEP_MEMBER_ID, False)
    response = await _ORIGINAL_SEND(self, request)
    setattr(self, _KEEP_MEMBER_ID, keeps_member_id(response))
    return response


def reset_generation(self: Any) -> None:
    # Not cleared here: a commit's handler calls this once per partition of the same answer.
    if getattr(self, _KEEP_MEMBER_ID, False):
        log.info(
            "Group %s moved past this member's generation: rejoining as member %s",
            self.group_id,
            self.member_id,
        )
        self.generation = OffsetCommitRequest.DEFAULT_GENERATION_ID
        self.request_rejoin()
        return
    _ORIGINAL_RESET(self)


async def _send_sync_group_request(self: Any, request: Any) -> Any:
    assignment = await _ORIGINAL_SYNC(self, request)
    if assignment is not None and len(assignment) == 0:
        log.warning(
            "SyncGroup for group %s gave member %s no assignment (the leader's had not come "
            "or did not name it): rejoining",
            self.group_id,
            self._coordinator.member_id,
        )
        self._coordinator.request_rejoin()
        return None  # as after a failed sync: the coordinator backs off and joins again
    return assignment


def apply() -> None:
    """Install both fixes (idempotent)."""
    require_version(
        "pipeline.runtime.group_rejoin",
        aiokafka,
        PATCHED_VERSIONS,
        "check that ILLEGAL_GENERATION still drops the member id and that an empty SyncGroup "
        "assignment still fails to decode",
    )
    GroupCoordinator._send_req = _send_req
    GroupCoordinator.reset_generation = reset_generation
    CoordinatorGroupRebalance._send_sync_group_request = _send_sync_group_request
