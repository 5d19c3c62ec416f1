"""``crisiswatch simulate``: a seeded multi-platform stream with injected crises and their truth.

Ordinary life per subject: posts arrive with a daily cycle (x0.2 at 04:00 UTC to x1.8 at
16:00), from a population of authors with heavy-tailed (Pareto) follower counts grouped in
communities; each post may set off a small sub-critical cascade (self-exciting: every post has
on average ``branching`` responses, reposts, replies and quotes, mostly from its author's own
community, minutes later). Tone is mixed and mostly mild.

Crises, modelled on real ones, are bursts whose rate rises and falls (a gamma-shaped intensity,
its own peak and length per kind), whose posts answer the first post or each other (a deep,
broad cascade), move from platform to platform at given delays, draw authors from more and
more communities, and are angry. Each has a known onset, first post, origin platform, initiator,
platforms in the order reached and final reach (the distinct followers of everyone who posted
in it): ``schemas.truth.CrisisTruth``.

Memory is bounded by one hour of posts per subject: the stream is generated hour by hour and
merged in event-time order, so millions of posts stream to a file without being held.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.tools import scenario
from schemas.truth import CrisisTruth

START = datetime(2024, 6, 3, tzinfo=UTC)
SUBJECTS = {
    "united": "@united",
    "delta": "@Delta",
    "southwest": "@SouthwestAir",
    "jetblue": "@JetBlue",
    "american": "@AmericanAir",
    "usairways": "@USAirways",
}
# The scenario's everyday texts, and two more.
ORDINARY = (
    *scenario.ORDINARY,
    "snacks on {n} were stale",
    "pilot on {n} made a funny announcement",
)
ORDINARY_PLATFORMS = ("twitter", "twitter", "twitter", "instagram", "reddit", "facebook")


@dataclass(frozen=True)
class CrisisKind:
    """The shape of one kind of crisis, from the cases it is modelled on."""

    origin: str
    #: Platforms after the origin, each with the minutes after onset it is reached.
    jumps: tuple[tuple[str, float], ...]
    #: Who starts it: "member" (a mid-sized account), "brand" (the subject's own account),
    #: "leader" (one of the most followed accounts).
    initiator: str
    peak_per_minute: float
    peak_minute: float
    texts: tuple[str, ...]
    #: Followers of the big accounts (news desks, celebrities) that join at each jump.
    amplifier_followers: int = 0


KINDS = {
    "employee_video": CrisisKind(
        "youtube",
        (("twitter", 3.0), ("news", 14.0)),
        "member",
        30.0,
        18.0,
        (
            "disgusting, watch how they treated him {n}",
            "fire that employee now {n}, shameful",
            "boycott, this video is awful {n}",
        ),
        500_000,
    ),
    "viral_receipt": CrisisKind(
        "twitter",
        (("reddit", 25.0),),
        "member",
        25.0,
        20.0,
        (
            "they charged a fee for that?? outrageous {n}",
            "ripoff receipt, terrible {n}",
            "shame on you for this receipt {n}",
        ),
    ),
    "leader_backlash": CrisisKind(
        "twitter",
        (("facebook", 8.0), ("news", 15.0), ("instagram", 30.0)),
        "leader",
        40.0,
        22.0,
        (
            "offensive and disgraceful statement {n}",
            "boycott them, angry {n}",
            "international outrage, shame {n}",
        ),
        2_000_000,
    ),
    "meme_misuse": CrisisKind(
        "twitter",
        (("reddit", 10.0), ("tiktok", 20.0)),
        "brand",
        20.0,
        25.0,
        (
            "tasteless, mocking a tragedy {n}",
            "delete this, disgusting meme {n}",
            "awful marketing, ashamed {n}",
        ),
    ),
    "tone_deaf_post": CrisisKind(
        "instagram",
        (("twitter", 6.0),),
        "brand",
        18.0,
        20.0,
        (
            "tone deaf and insulting {n}",
            "read the room, terrible post {n}",
            "this is offensive, unfollowing {n}",
        ),
    ),
    "owner_meltdown": CrisisKind(
        "facebook",
        (("twitter", 12.0), ("news", 30.0)),
        "brand",
        22.0,
        30.0,
        (
            "unhinged rant, shameful {n}",
            "insulting customers, awful {n}",
            "never flying again after this meltdown {n}",
        ),
        300_000,
    ),
}


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 7
    days: float = 3.0
    subjects: tuple[str, ...] = ("united", "delta", "southwest", "jetblue")
    #: Ordinary original posts per subject per hour, on average over the day.
    posts_per_hour: float = 30.0
    #: Mean responses per ordinary post (sub-critical: cascades stay small).
    branching: float = 0.35
    authors: int = 50_000
    communities: int = 12
    #: Crises, at least ``min_gap_hours`` apart and after ``warmup_hours`` (baselines warm).
    crises: int = 6
    kinds: tuple[str, ...] = tuple(KINDS)
    warmup_hours: float = 16.0
    min_gap_hours: float = 6.0
    crisis_minutes: float = 60.0

    def __post_init__(self) -> None:
        # Refused here, not discovered as a division by zero or a truth file that lists a crisis
        # of a stream with no posts.
        if not self.subjects or not set(self.subjects) <= set(SUBJECTS):
            raise ValueError(f"subjects: one or more of {', '.join(SUBJECTS)}")
        if not self.days > 0 or not self.posts_per_hour > 0:
            raise ValueError("days and posts per hour must be positive")
        if self.crises < 0 or self.authors < 1 or self.communities < 1:
            raise ValueError("crises must be 0 or more, authors and communities 1 or more")
        if self.crises and self.days * 24 < self.warmup_hours + 2 + self.min_gap_hours:
            least = (self.warmup_hours + 2 + self.min_gap_hours) / 24
            raise ValueError(
                f"{self.days:g} days leave no room for a crisis after the "
                f"{self.warmup_hours:g} h warm-up: {least:g} days or more, or no crises"
            )


@dataclass
class _Crisis:
    truth_id: str
    kind: CrisisKind
    kind_name: str
    subject: str
    onset: datetime
    initiator: tuple[str, int]
    posts: list[dict[str, Any]] = field(default_factory=list)


class Population:
    """Authors with Pareto followers, in communities; the most followed are the leaders."""

    def __init__(self, rng: random.Random, size: int, communities: int) -> None:
        self.followers = [int(40 * rng.paretovariate(1.1)) for _ in range(size)]
        self.community = [rng.randrange(communities) for _ in range(size)]
        self.members: list[list[int]] = [[] for _ in range(communities)]
        for author, c in enumerate(self.community):
            self.members[c].append(author)
        ranked = sorted(range(size), key=lambda a: -self.followers[a])
        self.leaders = ranked[: max(1, size // 1000)]
        self.mid = ranked[size // 100 : size // 10]

    def pick(self, rng: random.Random, community: int | None) -> int:
        if community is not None and rng.random() < 0.8:
            return rng.choice(self.members[community])
        return rng.randrange(len(self.followers))


def _iso(ts: datetime) -> str:
    # Always with microseconds, so that the strings sort in time order.
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _post(
    pid: str, ts: datetime, text: str, author: str, followers: int, platform: str, **parents: str
) -> dict[str, Any]:
    return {
        "id": pid,
        "platform": platform,
        "author": {"id": author, "handle": author, "followers": followers},
        "text": text,
        "created_at": _iso(ts),
        "language": "en",
        **parents,
    }


def _rate_factor(ts: datetime) -> float:
    hour = ts.hour + ts.minute / 60
    return 1 + 0.8 * math.sin(2 * math.pi * (hour - 10) / 24)


def _ordinary_hour(
    rng: random.Random,
    cfg: SimulationConfig,
    people: Population,
    subject: str,
    hour_start: datetime,
    counter: list[int],
) -> list[dict[str, Any]]:
    handle = SUBJECTS[subject]
    posts: list[dict[str, Any]] = []
    expected = cfg.posts_per_hour * _rate_factor(hour_start + timedelta(minutes=30))
    n = _poisson(rng, expected)
    queue: list[tuple[datetime, str | None, int | None]] = [
        (hour_start + timedelta(seconds=rng.uniform(0, 3600)), None, None) for _ in range(n)
    ]
    while queue:
        ts, parent, community = queue.pop()
        counter[0] += 1
        pid = f"{subject}-o{counter[0]}"
        author = people.pick(rng, community)
        text = f"{handle} " + rng.choice(ORDINARY).format(n=rng.randint(100, 9999))
        kind = rng.choice(("repost_of", "reply_to", "quote_of")) if parent else None
        extra: dict[str, str] = {kind: parent} if kind and parent else {}
        posts.append(
            _post(
                pid,
                ts,
                text,
                f"u{author}",
                people.followers[author],
                rng.choice(ORDINARY_PLATFORMS),
                **extra,
            )
        )
        for _ in range(_poisson(rng, cfg.branching)):
            queue.append(
                (ts + timedelta(minutes=rng.expovariate(1 / 8)), pid, people.community[author])
            )
    return posts


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; means here are small to moderate (a few hundred at most).
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _crisis_posts(
    rng: random.Random, cfg: SimulationConfig, people: Population, crisis: _Crisis
) -> None:
    kind, handle = crisis.kind, SUBJECTS[crisis.subject]
    author_id, followers = crisis.initiator
    root = f"{crisis.truth_id}-0"
    first_text = {
        "brand": f"{handle} our new campaign, hope you love it",
        "leader": f"{handle} my honest opinion about this airline",
        "member": f"{handle} look what happened on my flight, video inside",
    }[kind.initiator]
    posts = [_post(root, crisis.onset, first_text, author_id, followers, kind.origin)]
    communities = [people.community[rng.randrange(len(people.followers))]]
    shape = 3.0  # gamma-shaped intensity: rises to the peak at peak_minute, then decays
    scale = kind.peak_minute / (shape - 1)
    norm = kind.peak_per_minute / (
        (kind.peak_minute / scale) ** (shape - 1) * math.exp(-kind.peak_minute / scale)
    )
    for minute in range(1, int(cfg.crisis_minutes * 2)):
        rate = norm * (minute / scale) ** (shape - 1) * math.exp(-minute / scale)
        if minute % 10 == 0:  # the crisis reaches new communities as it goes
            communities.append(rng.randrange(cfg.communities))
        reached = [kind.origin] + [p for p, after in kind.jumps if minute >= after]
        for _ in range(_poisson(rng, rate)):
            ts = crisis.onset + timedelta(minutes=minute, seconds=rng.uniform(0, 59))
            parent = root if rng.random() < 0.4 or len(posts) < 2 else rng.choice(posts)["id"]
            author = people.pick(rng, rng.choice(communities))
            platform = reached[-1] if rng.random() < 0.5 else rng.choice(reached)
            text = f"{handle} " + rng.choice(kind.texts).format(n=len(posts))
            posts.append(
                _post(
                    f"{crisis.truth_id}-{len(posts)}",
                    ts,
                    text,
                    f"u{author}",
                    people.followers[author],
                    platform,
                    **{rng.choice(("repost_of", "reply_to", "quote_of")): parent},
                )
            )
    for k, (platform, after) in enumerate(kind.jumps):  # big accounts carry each jump
        if kind.amplifier_followers:
            ts = crisis.onset + timedelta(minutes=after, seconds=30)
            posts.append(
                _post(
                    f"{crisis.truth_id}-amp{k}",
                    ts,
                    f"{handle} faces outrage: " + kind.texts[0].format(n=k),
                    f"desk{crisis.truth_id}{k}",
                    kind.amplifier_followers,
                    platform,
                    quote_of=root,
                )
            )
    posts.sort(key=lambda p: p["created_at"])
    crisis.posts = posts


def _truth(crisis: _Crisis) -> CrisisTruth:
    first = crisis.posts[0]
    platforms: list[str] = []
    audience: dict[str, int] = {}
    for post in crisis.posts:
        if post["platform"] not in platforms:
            platforms.append(post["platform"])
        audience[post["author"]["id"]] = post["author"]["followers"]
    return CrisisTruth(
        crisis_id=crisis.truth_id,
        kind=crisis.kind_name,
        subject=crisis.subject,
        onset=crisis.onset,
        end=datetime.fromisoformat(crisis.posts[-1]["created_at"]),
        first_post=first["id"],
        origin_platform=first["platform"],
        initiator=first["author"]["id"],
        platforms=platforms,
        final_reach=sum(audience.values()),
        posts=len(crisis.posts),
    )


def _plan_crises(rng: random.Random, cfg: SimulationConfig, people: Population) -> list[_Crisis]:
    crises: list[_Crisis] = []
    span = cfg.days * 24 - cfg.warmup_hours - 2
    slots = int(span // cfg.min_gap_hours)  # at least 1 with crises (SimulationConfig)
    for k, slot in enumerate(sorted(rng.sample(range(slots), min(cfg.crises, slots)))):
        onset = START + timedelta(
            hours=cfg.warmup_hours
            + slot * cfg.min_gap_hours
            + rng.uniform(0, cfg.min_gap_hours - 2)
        )
        onset = onset.replace(microsecond=0)
        name = cfg.kinds[k % len(cfg.kinds)]
        kind, subject = KINDS[name], cfg.subjects[k % len(cfg.subjects)]
        if kind.initiator == "brand":
            initiator = (SUBJECTS[subject].lstrip("@"), 500_000)
        else:
            pool = people.leaders if kind.initiator == "leader" else people.mid
            author = rng.choice(pool)
            initiator = (f"u{author}", people.followers[author])
        crises.append(_Crisis(f"c{k}-{name}", kind, name, subject, onset, initiator))
    return crises


def simulate(cfg: SimulationConfig) -> tuple[Iterator[dict[str, Any]], list[CrisisTruth]]:
    """The posts (an iterator, event-time order) and the truth of the crises in them."""
    rng = random.Random(cfg.seed)
    people = Population(rng, cfg.authors, cfg.communities)
    crises = _plan_crises(rng, cfg, people)
    for crisis in crises:
        _crisis_posts(random.Random(f"{cfg.seed}/{crisis.truth_id}"), cfg, people, crisis)
    truths = [_truth(c) for c in crises]

    def subject_stream(subject: str, seed: str) -> Iterator[dict[str, Any]]:
        local = random.Random(seed)
        counter = [0]
        pending: list[tuple[str, str, dict[str, Any]]] = []
        for post in (p for c in crises if c.subject == subject for p in c.posts):
            heapq.heappush(pending, (post["created_at"], post["id"], post))
        for hour in range(math.ceil(cfg.days * 24)):
            start = START + timedelta(hours=hour)
            for post in _ordinary_hour(local, cfg, people, subject, start, counter):
                heapq.heappush(pending, (post["created_at"], post["id"], post))
            horizon = _iso(start + timedelta(hours=1))
            while pending and pending[0][0] < horizon:  # cascades spill into later hours
                yield heapq.heappop(pending)[2]
        end = _iso(START + timedelta(days=cfg.days))
        while pending and pending[0][0] < end:
            yield heapq.heappop(pending)[2]

    streams = [subject_stream(s, f"{cfg.seed}/{s}") for s in cfg.subjects]
    merged = heapq.merge(*streams, key=lambda p: (p["created_at"], p["id"]))
    return merged, truths


def write_simulation(
    cfg: SimulationConfig, directory: Path
) -> tuple[Path, Path, int, list[CrisisTruth]]:
    """posts.jsonl (event-time order) and truth.jsonl in ``directory``; returns the paths, the
    number of posts and the truth. Streams: the posts are never all in memory."""
    directory.mkdir(parents=True, exist_ok=True)
    posts, truths = simulate(cfg)
    posts_path, truth_path = directory / "posts.jsonl", directory / "truth.jsonl"
    count = 0
    with posts_path.open("wb") as out:
        for post in posts:
            out.write(orjson.dumps(post) + b"\n")
            count += 1
    truth_path.write_bytes(b"".join(t.to_bytes() + b"\n" for t in truths))
    return posts_path, truth_path, count, truths
