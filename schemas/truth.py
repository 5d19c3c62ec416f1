"""CrisisTruth: what really happened in a simulated (or labelled) stream, for evaluation.

Written next to a stream by ``crisiswatch simulate`` (one JSON record per line) and read by
``crisiswatch evaluate``: each injected crisis with its known onset, origin and final reach.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from schemas.base import Record


class CrisisTruth(Record):
    schema_version: Literal[1] = 1
    crisis_id: str
    #: What kind of crisis (e.g. employee_video, viral_receipt, leader_backlash, meme_misuse,
    #: tone_deaf_post, owner_meltdown; a small scenario may use its own).
    kind: str
    subject: str
    #: Event time of the first post of the crisis, and of its last.
    onset: datetime
    end: datetime
    first_post: str
    origin_platform: str
    #: Author id of the first post.
    initiator: str
    #: Platforms in the order the crisis reached them.
    platforms: list[str]
    #: Sum of the distinct followers of every author who posted in the crisis.
    final_reach: int
    posts: int
