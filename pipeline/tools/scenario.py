"""A small seeded scenario with ground truth: ordinary days for one subject, then a crisis.

Ordinary chatter follows a daily cycle (quiet at night, busy in the afternoon, UTC) with mixed,
mostly mild sentiment and many small unrelated stories. The crisis, modelled on "United breaks
guitars", starts with a video on a video platform by a mid-sized account, is reposted on a
microblog at a rising rate with angry replies, then quoted by news accounts and a big opinion
leader, and dies down. The demo streams it; the tests assert on its ground truth.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.truth import CrisisTruth

T0 = datetime(2024, 3, 4, 0, 0, tzinfo=UTC)

ORDINARY = [
    "flight {n} boarded on time",
    "gate change for {n} again",
    "thanks for the upgrade on {n}",
    "wifi on flight {n} was slow",
    "crew on {n} were lovely",
    "is flight {n} delayed",
    "seat {n}c has no legroom",
    "good coffee on {n} today",
    "app checkin for {n} worked fine",
    "lost my charger on {n}",
    "landed early on {n}, nice",
    "bag took ages at belt {n}",
]
ANGRY = [
    "disgusting, they smashed his guitar {n}",
    "boycott, shame on you {n}",
    "outrageous treatment of a passenger {n}",
    "never flying with you again {n}, terrible",
    "this video is awful, fire them {n}",
    "worst airline ever, ashamed {n}",
]


def _post(
    pid: str,
    ts: datetime,
    text: str,
    author: str,
    followers: int,
    platform: str = "twitter",
    **parents: str,
) -> dict[str, Any]:
    return {
        "id": pid,
        "platform": platform,
        "author": {"id": author, "handle": author, "followers": followers},
        "text": text,
        "created_at": ts.isoformat().replace("+00:00", "Z"),
        **parents,
    }


def ordinary_days(
    rng: random.Random,
    start: datetime,
    hours: float,
    handle: str,
    per_hour: float = 12.0,
    prefix: str = "o",
) -> list[dict[str, Any]]:
    """Chatter with a daily cycle: per_hour on average, x0.2 at 04:00 UTC to x1.8 at 16:00."""
    posts: list[dict[str, Any]] = []
    t = 0.0
    n = 0
    while True:
        t += rng.expovariate(per_hour * 1.8) * 3600  # thinning: candidates at the peak rate
        if t >= hours * 3600:
            return posts
        when = start + timedelta(seconds=t)
        hour = when.hour + when.minute / 60
        if rng.random() > (1 + 0.8 * math.sin(2 * math.pi * (hour - 10) / 24)) / 1.8:
            continue
        n += 1
        text = f"{handle} " + rng.choice(ORDINARY).format(n=rng.randint(100, 9999))
        author = f"{prefix}user{rng.randint(1, 5000)}"
        posts.append(_post(f"{prefix}{n}", when, text, author, int(rng.paretovariate(1.2) * 50)))


def guitar_crisis(
    rng: random.Random, onset: datetime, handle: str
) -> tuple[list[dict[str, Any]], CrisisTruth]:
    """A video on youtube, reposted and replied to on twitter, quoted by news: 40 minutes."""
    video = _post(
        "g0",
        onset,
        f"{handle} broke my guitar and would not pay, watch the video",
        "musician",
        20_000,
        platform="youtube",
    )
    posts: list[dict[str, Any]] = [video]
    n = 0
    for minute in range(40):
        rate = 2 + minute * 1.5 if minute < 20 else max(2.0, 32 - (minute - 20) * 1.5)
        for _ in range(int(rate)):
            n += 1
            ts = onset + timedelta(minutes=2 + minute, seconds=rng.uniform(0, 59))
            parent = "g0" if rng.random() < 0.6 else f"g{rng.randint(1, max(1, n - 1))}"
            text = f"{handle} " + rng.choice(ANGRY).format(n=n)
            posts.append(
                _post(
                    f"g{n}", ts, text, f"fan{n}", int(rng.paretovariate(1.2) * 80), repost_of=parent
                )
            )
    for k in range(5):  # news picks it up 12 minutes in
        ts = onset + timedelta(minutes=12 + 3 * k)
        posts.append(
            _post(
                f"news{k}",
                ts,
                f"{handle} faces backlash over guitar video {k}",
                f"newsdesk{k}",
                500_000,
                platform="news",
                quote_of="g0",
            )
        )
    posts.append(
        _post(
            "celeb",
            onset + timedelta(minutes=15),
            f"{handle} shame on you, pay the man",
            "celebrity",
            3_000_000,
            quote_of="g0",
        )
    )
    audience = {p["author"]["id"]: p["author"]["followers"] for p in posts}
    truth = CrisisTruth(
        crisis_id="guitar",
        kind="employee_video",
        subject="",
        onset=onset,
        end=max(datetime.fromisoformat(p["created_at"]) for p in posts),
        first_post="g0",
        origin_platform="youtube",
        initiator="musician",
        platforms=["youtube", "twitter", "news"],
        final_reach=sum(audience.values()),
        posts=len(posts),
    )
    return posts, truth


def crisis_scenario(
    seed: int = 1,
    subject: str = "united",
    handle: str = "@united",
    quiet_hours: float = 38.0,
    after_hours: float = 4.0,
    others: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], CrisisTruth]:
    """Quiet days, the crisis at ``quiet_hours`` (14:00 UTC on the second day by default, at
    the busy time of day), then ordinary chatter again; ``others`` (handles of other subjects)
    only have ordinary days over the same time. All posts in event-time order."""
    rng = random.Random(seed)
    onset = T0 + timedelta(hours=quiet_hours)
    hours = quiet_hours + after_hours
    posts = ordinary_days(rng, T0, hours, handle)
    for n, other in enumerate(others):
        posts.extend(ordinary_days(rng, T0, hours, other, prefix=f"x{n}-"))
    crisis, truth = guitar_crisis(rng, onset, handle)
    posts.extend(crisis)
    posts.sort(key=lambda p: (datetime.fromisoformat(p["created_at"]), p["id"]))
    return posts, truth.model_copy(update={"subject": subject})


def encoded(posts: list[dict[str, Any]]) -> list[bytes]:
    """The posts as a producer would send them to posts.raw."""
    return [orjson.dumps(p) for p in posts]


def ordinary_scenario(
    seed: int = 2, handle: str = "@united", days: float = 3.0
) -> list[dict[str, Any]]:
    """Only ordinary ups and downs, for ``days``: no crisis in it."""
    return ordinary_days(random.Random(seed), T0, days * 24, handle)
