"""Volume: how fast a subject's conversation is growing, against its own seasonal baseline.

Crisis steps 1 and 3, plain Python on dicts, event time only. ``SubjectSpread`` counts one
subject's posts into 1-minute event-time buckets and scores the recent volume against a seasonal
baseline of the post rate: an exponentially weighted (EW) mean and variance of the rate per
5-minute block, kept per hour-of-day slot (or hour-of-week, with ``season_hours=168``) and
blended with a global EW level until the slot has history. So an ordinary daily peak is not a
spike, while a burst at any hour is. Blocks are learnt once event time has passed them (gaps are
zero-rate blocks, in closed form), clipped once warm so that a crisis does not become the baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from pipeline.models.state_log import ChangeNotes

BUCKET_SECONDS = 60


@dataclass(frozen=True, slots=True)
class SpreadConfig:
    #: Minutes of 1-minute buckets kept (the volume and velocity windows look back at most 60).
    horizon_minutes: int = 120
    #: Unique authors, audience and platforms are over this many most recent minutes.
    author_window_minutes: int = 60
    #: Distinct authors remembered in that window; past it unique_authors and audience are
    #: floors (the state goes to a changelog, so it must stay small however big the burst).
    max_tracked_authors: int = 1_000
    max_platforms: int = 16
    #: The baseline learns the rate of each completed block of this many minutes (divides 60).
    block_minutes: int = 5
    #: A block is learnt this many minutes after it ends, so slightly late posts still count.
    settle_minutes: int = 2
    #: Seasonal slots: 24 = hour of day (UTC), 168 = hour of week (needs weeks of history).
    season_hours: int = 24
    #: EW weight of a block in the global level: 0.01 is a mean age of ~100 blocks (~8 hours).
    global_alpha: float = 0.01
    #: EW weight of a block in its slot: a slot gets 12 blocks a day (hour of day), so 0.05 is a
    #: mean age of ~19 blocks, about a day and a half of that hour.
    slot_alpha: float = 0.05
    #: Blocks of history before the baseline is trusted (``warm``): 12 = one hour.
    warm_blocks: int = 12
    #: A slot's weight in the baseline grows linearly to 1 at this many blocks (2 days of it).
    slot_warm_blocks: int = 24
    #: Posts/minute floor of the baseline in ratio and z: one post an hour.
    min_rate: float = 1 / 60
    #: Once warm, a block's rate is learnt as at most baseline + this many stds, so an hour-long
    #: crisis stays a crisis for hours, while a lasting rise is still learnt over days.
    clip_sigmas: float = 6.0

    def __post_init__(self) -> None:
        if self.block_minutes < 1 or 60 % self.block_minutes:
            raise ValueError("block_minutes must divide 60")
        if self.horizon_minutes < max(60, self.block_minutes + self.settle_minutes + 1):
            raise ValueError("horizon_minutes must cover 60 minutes and a block plus settling")
        if not 1 <= self.author_window_minutes <= self.horizon_minutes:
            raise ValueError("author_window_minutes must be in [1, horizon_minutes]")
        if self.settle_minutes < 0 or self.max_tracked_authors < 1 or self.max_platforms < 1:
            raise ValueError("settle_minutes must be >= 0, the caps >= 1")
        if self.season_hours < 1 or self.warm_blocks < 1 or self.slot_warm_blocks < 1:
            raise ValueError("season_hours, warm_blocks and slot_warm_blocks must be >= 1")
        if not (0.0 < self.global_alpha < 1.0 and 0.0 < self.slot_alpha < 1.0):
            raise ValueError("global_alpha and slot_alpha must be in (0, 1)")
        if self.min_rate <= 0.0 or self.clip_sigmas <= 0.0:
            raise ValueError("min_rate and clip_sigmas must be positive")


def _ew_update(stats: list[Any], x: float, alpha: float) -> None:
    """One sample into [n, mean, var]: EW mean/variance (West's update).

    The weight is 1/n until that falls below alpha, so early values are plain means and
    variances instead of being biased towards the initial zero.
    """
    stats[0] += 1
    weight = max(alpha, 1.0 / stats[0])
    diff = x - stats[1]
    step = weight * diff
    stats[1] += step
    stats[2] = (1.0 - weight) * (stats[2] + diff * step)


def _ew_zeros(stats: list[Any], count: int, alpha: float) -> None:
    """``count`` zero samples into [n, mean, var] in O(1/alpha) steps, however many there are.

    Once the weight is the constant alpha, k zeros give mean' = r^k mean and
    var' = r^k (var + mean^2 (1 - r^k)) with r = 1 - alpha (by induction on k).
    """
    while count > 0 and 1.0 / (stats[0] + 1) > alpha:
        _ew_update(stats, 0.0, alpha)
        count -= 1
    if count > 0:
        decay = (1.0 - alpha) ** count
        mean = stats[1]
        stats[0] += count
        stats[1] = decay * mean
        stats[2] = decay * (stats[2] + mean * mean * (1.0 - decay))


class SubjectSpread:
    """One subject's volume, velocity and reach against its seasonal baseline.

    ``state`` is a JSON-able dict (string keys only) owned by the caller: pass it back in after a
    restart. Memory: ``horizon_minutes`` buckets, ``max_tracked_authors`` authors,
    ``max_platforms`` platforms and ``season_hours`` slot statistics.
    """

    def __init__(self, config: SpreadConfig, state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.state: dict[str, Any] = state or {
            "watermark": None,  # largest event time seen (epoch seconds)
            "buckets": {},  # minute index (epoch minutes, as a string) -> posts
            "late": 0,  # posts older than the horizon: not counted anywhere else
            "authors": {},  # author id -> [followers, last minute seen]
            "authors_capped_at": None,  # last minute an author was not tracked (cap reached)
            "platforms": {},  # platform -> last minute seen
            "folded_to": None,  # first minute (a block start) the baseline has not learnt
            "level": [0, 0.0, 0.0],  # global [n, EW mean, EW variance] of the block rate
            "slots": {},  # seasonal slot -> [n, EW mean, EW variance]
        }
        #: Authors added, changed and forgotten since the owner last took them: a table then
        #: writes only those (pipeline/models/state_log.py).
        self.author_changes = ChangeNotes(limit=2 * config.max_tracked_authors)
        # Derived, never stored: minute -> ids of the authors last seen then (an id may stay
        # under earlier minutes too; pruning checks its record), so a minute passing the author
        # window visits those authors, not all of them (~1,000 on a busy subject).
        self._seen_at: dict[int, list[str]] = {}
        for author_id, (_, minute) in self.state["authors"].items():
            self._seen_at.setdefault(minute, []).append(author_id)
        #: First bucket minute kept by the last prune (None: not pruned by this object yet, so
        #: a loaded state's buckets are filtered whole once).
        self._buckets_from: int | None = None

    def learn_one(self, ts: float, author_id: str, followers: int, platform: str) -> None:
        if not math.isfinite(ts):
            raise ValueError(f"event time must be finite, got {ts!r}")
        state = self.state
        minute = math.floor(ts / BUCKET_SECONDS)
        if state["watermark"] is None:
            state["folded_to"] = minute - minute % self.config.block_minutes
        if state["watermark"] is None or ts > state["watermark"]:
            self._advance(ts)
        now = math.floor(state["watermark"] / BUCKET_SECONDS)
        if minute <= now - self.config.horizon_minutes:
            state["late"] += 1  # its bucket is gone (and its block learnt): count, drop
            return
        buckets = state["buckets"]
        key = str(minute)
        buckets[key] = buckets.get(key, 0) + 1
        if minute > now - self.config.author_window_minutes:
            self._see(author_id, max(0, int(followers)), platform, minute)

    def score_one(self) -> dict[str, Any]:
        """Spread as of the watermark (rates in posts per minute)."""
        state = self.state
        cfg = self.config
        watermark = state["watermark"]
        if watermark is None:
            now, elapsed = 0, 0.0
        else:
            now = math.floor(watermark / BUCKET_SECONDS)
            elapsed = watermark / BUCKET_SECONDS - now  # of the current, partial minute
        # Posts of the last 60 minutes, newest first: one pass for the four windows below.
        buckets = state["buckets"]
        last_hour = list(map(buckets.get, map(str, range(now, now - 60, -1)), repeat(0)))
        volume_5m = sum(last_hour[:5])
        # The last 5 buckets span 4 whole minutes plus the elapsed part of the current one.
        velocity = volume_5m / (4.0 + elapsed) if watermark is not None else 0.0
        previous = sum(last_hour[5:10]) / 5.0
        rate, std, seasonal = self._baseline(now)
        floor = max(rate, cfg.min_rate)
        # Counting noise alone gives a block rate a std of sqrt(rate / block): z never uses less.
        noise = max(std, math.sqrt(floor / cfg.block_minutes))
        authors = state["authors"].values()
        capped_at = state["authors_capped_at"]
        return {
            "watermark": watermark,
            "volume_5m": volume_5m,
            "volume_15m": sum(last_hour[:15]),
            "volume_60m": sum(last_hour),
            "velocity": velocity,
            "acceleration": (velocity - previous) / 5.0,  # per minute: windows 5 minutes apart
            "baseline_rate": rate,
            "baseline_std": std,
            "ratio": velocity / floor,
            "z": (velocity - rate) / noise,
            "unique_authors": len(authors),
            "audience": sum(map(itemgetter(0), authors)),  # followers; in C, per report
            "authors_floor": capped_at is not None and capped_at > now - cfg.author_window_minutes,
            "platforms": sorted(state["platforms"]),
            "warm": state["level"][0] >= cfg.warm_blocks,
            "seasonal_weight": seasonal,
            "late": state["late"],
        }

    def _volume(self, first: int, last: int) -> int:
        buckets = self.state["buckets"]
        return sum(buckets.get(str(minute), 0) for minute in range(first, last + 1))

    def _slot(self, minute: int) -> int:
        return (minute // 60) % self.config.season_hours

    def _baseline(self, minute: int) -> tuple[float, float, float]:
        """(rate, std, slot weight) for the slot of ``minute``: the slot blended with the level."""
        cfg = self.config
        _, level_mean, level_var = self.state["level"]
        slot = self.state["slots"].get(str(self._slot(minute)))
        if slot is None:
            return level_mean, math.sqrt(level_var), 0.0
        weight = min(1.0, slot[0] / cfg.slot_warm_blocks)
        mean = weight * slot[1] + (1.0 - weight) * level_mean
        var = weight * slot[2] + (1.0 - weight) * level_var
        return mean, math.sqrt(var), weight

    def _see(self, author_id: str, followers: int, platform: str, minute: int) -> None:
        state = self.state
        authors = state["authors"]
        seen = authors.get(author_id)
        if seen is not None:
            seen[0] = followers  # the latest follower count is the best one
            if minute > seen[1]:
                seen[1] = minute
                self._note_seen(author_id, minute)
            self.author_changes.touch(author_id)
        elif len(authors) < self.config.max_tracked_authors:
            authors[author_id] = [followers, minute]
            self._note_seen(author_id, minute)
            self.author_changes.touch(author_id)
        else:
            state["authors_capped_at"] = max(minute, state["authors_capped_at"] or minute)
        platforms = state["platforms"]
        if platform in platforms or len(platforms) < self.config.max_platforms:
            platforms[platform] = max(minute, platforms.get(platform, minute))

    def _note_seen(self, author_id: str, minute: int) -> None:
        ids = self._seen_at.get(minute)
        if ids is None:
            self._seen_at[minute] = [author_id]
        else:
            ids.append(author_id)

    def _advance(self, ts: float) -> None:
        """Move the watermark to ``ts``: learn the blocks it completes, forget what it passes."""
        state = self.state
        cfg = self.config
        before = state["watermark"]
        state["watermark"] = ts
        now = math.floor(ts / BUCKET_SECONDS)
        if before is not None and now == math.floor(before / BUCKET_SECONDS):
            return  # same minute: nothing completes
        # Blocks with posts end at the old watermark's block: everything after it is empty.
        last_posts = math.floor(before / BUCKET_SECONDS) if before is not None else now
        self._learn_blocks(now, last_posts)
        first_bucket = now - cfg.horizon_minutes + 1
        first_seen = now - cfg.author_window_minutes + 1
        self._forget_buckets(first_bucket)
        self._forget_authors(first_seen)
        state["platforms"] = {k: m for k, m in state["platforms"].items() if m >= first_seen}

    def _forget_buckets(self, first: int) -> None:
        """Drop the buckets before minute ``first``, in place (the others keep their order).
        After a prune every kept bucket is at or after its first minute, and learn_one adds
        none before it, so the next prune has only the minutes between the two to look up."""
        buckets = self.state["buckets"]
        before = self._buckets_from
        self._buckets_from = first
        if before is not None and first - before <= len(buckets):
            for minute in range(before, first):
                buckets.pop(str(minute), None)
        elif buckets:
            for key in [k for k in buckets if int(k) < first]:
                del buckets[key]

    def _forget_authors(self, first: int) -> None:
        """Forget, in place, the authors last seen before minute ``first``."""
        seen_at = self._seen_at
        authors = self.state["authors"]
        for minute in [m for m in seen_at if m < first]:
            for author_id in seen_at.pop(minute):
                record = authors.get(author_id)
                if record is not None and record[1] < first:
                    del authors[author_id]
                    self.author_changes.remove(author_id)

    def _learn_blocks(self, now: int, last_posts: int) -> None:
        """Learn every block that ended at least ``settle_minutes`` before minute ``now``.

        Gaps count as zero-rate blocks. Blocks that may hold posts are learnt one by one (a few);
        the empty run after them goes in per slot in closed form, so a jump of months costs
        O(season_hours) and not O(minutes).
        """
        state = self.state
        cfg = self.config
        size = cfg.block_minutes
        start = state["folded_to"]
        end = (now - cfg.settle_minutes) // size * size
        if end <= start:
            return
        busy_end = min(end, max(start, (last_posts // size + 1) * size))
        for block in range(start, busy_end, size):
            rate = self._volume(block, block + size - 1) / size
            if state["level"][0] >= cfg.warm_blocks:  # a burst must not become the baseline
                mean, std, _ = self._baseline(block)
                noise = max(std, math.sqrt(max(mean, cfg.min_rate) / size))
                rate = min(rate, mean + cfg.clip_sigmas * noise)
            self._learn_block(block, rate)
        if busy_end < end:
            _ew_zeros(state["level"], (end - busy_end) // size, cfg.global_alpha)
            for slot, count in self._blocks_per_slot(busy_end, end).items():
                stats = state["slots"].setdefault(str(slot), [0, 0.0, 0.0])
                _ew_zeros(stats, count, cfg.slot_alpha)
        state["folded_to"] = end

    def _learn_block(self, block: int, rate: float) -> None:
        cfg = self.config
        _ew_update(self.state["level"], rate, cfg.global_alpha)
        stats = self.state["slots"].setdefault(str(self._slot(block)), [0, 0.0, 0.0])
        _ew_update(stats, rate, cfg.slot_alpha)

    def _blocks_per_slot(self, start: int, end: int) -> dict[int, int]:
        """How many blocks of the minutes [start, end) (block-aligned) fall in each slot."""
        cfg = self.config
        counts: dict[int, int] = {}
        cycle = cfg.season_hours * 60
        cycles = (end - start) // cycle
        if cycles:
            per_cycle = cycles * 60 // cfg.block_minutes
            counts = dict.fromkeys(range(cfg.season_hours), per_cycle)
            start += cycles * cycle
        while start < end:  # at most season_hours + 1 steps: one per (part of an) hour
            step = min((start // 60 + 1) * 60, end) - start
            slot = self._slot(start)
            counts[slot] = counts.get(slot, 0) + step // cfg.block_minutes
            start += step
        return counts
