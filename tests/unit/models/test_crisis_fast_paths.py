"""The detector's shortcuts give exactly what the plain computation does, on real reports.

The detector computes a report's count windows once for the volume term and learn_calm, leaves
out the surprises no result reads, takes its hot-story maxima unsorted, remembers scipy's values
and reads its weights in one call: each
is compared here, bit for bit, with the computation it replaces, over the signal reports of a
simulated crisis (several platforms, follower counts) and of the CrisisLexT26 sample (one
platform, no followers; tests/data/real).
"""

from __future__ import annotations

import math
import random
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from scipy import special

from pipeline.ingest.watchlist import WatchList
from pipeline.models import crisis_config as cc
from pipeline.models import crisis_score as cs
from pipeline.models import crisis_volume as cv
from pipeline.models.crisis import CrisisConfig, CrisisDetector
from pipeline.runtime.settings import Settings
from pipeline.tools.offline import run_offline
from pipeline.tools.scenario import crisis_scenario, encoded
from pipeline.tools.sources import in_event_time_order, read_posts

REAL = Path(__file__).parents[2] / "data" / "real" / "crisislex_t26"
CFG = CrisisConfig()


@cache
def reports() -> list[tuple[str, dict[str, Any]]]:
    """(subject, report) as the signals topic carries them, a crisis and a real stream."""
    posts, _ = crisis_scenario(others=("@Delta",))
    simulated = run_offline(
        encoded(posts), WatchList.load(Settings().watchlist_file()), keep_reports=True
    )
    raw = in_event_time_order(r for p in sorted(REAL.glob("2*.jsonl")) for r in read_posts(p))
    real = run_offline(raw, WatchList.load(REAL / "watchlist.toml"), keep_reports=True)
    kept = simulated.kept_reports + real.kept_reports
    return [(r.subject, orjson.loads(r.model_dump_json())) for r in kept]


@cache
def replayed() -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """Each report with its subject's feed as the detector scores it, and the phase then."""
    detectors: dict[str, CrisisDetector] = {}
    out = []
    for subject, report in reports():
        detector = detectors.setdefault(subject, CrisisDetector(subject, CFG))
        feed = dict(detector.feed)
        cs.observe_feed(feed, report, CFG.score)
        out.append((report, feed, detector.phase))
        detector.learn_one(report)
    return out


def old_crisis_score(terms: dict[str, float | None], cfg: cc.ScoreConfig) -> float:
    """crisis_score as it was written before its weights were read in one call."""
    weights = cfg.weights()
    known = {t: float(v) for t in cc.TERMS if (v := terms.get(t)) is not None}
    weight = {t: weights[t] * (v if t in cc.SUPPORTING else 1.0) for t, v in known.items()}
    level = {t: 1.0 if t in cc.SUPPORTING else v for t, v in known.items()}
    total = max(sum(weight.values()), cfg.min_known_weight)
    return sum(weight[t] * level[t] for t in known) / total if total else 0.0


def test_the_reports_cover_what_the_shortcuts_branch_on() -> None:
    seen = replayed()
    assert len(seen) > 300
    assert {phase for _, _, phase in seen} == {"normal", "watch", "crisis"}
    assert any(len(feed["platforms"]) > 1 for _, feed, _ in seen)
    assert any(len(list(cs.hot_stories(r, CFG.score))) > 1 for r, _, _ in seen)


def test_count_windows_given_equal_those_computed() -> None:
    score = CFG.score
    for report, feed, phase in replayed():
        windows = cv.count_windows(report, score, feed)
        given = cs.evidence_terms(report, score, feed, windows)
        assert list(given.items()) == list(cs.evidence_terms(report, score, feed).items())
        for sustained in (False, True):
            assert cv.unusual_counts(
                report, score, feed, sustained=sustained, windows=windows
            ) == cv.unusual_counts(report, score, feed, sustained=sustained)
        learnt, plain = dict(feed), dict(feed)
        cv.learn_calm(learnt, report, score, normal=phase == "normal", windows=windows)
        cv.learn_calm(plain, report, score, normal=phase == "normal")
        assert learnt == plain


def plain_windows(
    report: dict[str, Any], cfg: cc.ScoreConfig, feed: dict[str, Any], extra: Any = ()
) -> cc.Windows:
    """count_windows with every window's surprise computed."""
    windows = cv.count_windows(report, cfg, feed, extra)
    shape, rate, _ = cv.rate_posterior(report, cfg, feed)
    spread = report["spread"]
    counts = [(w, int(spread[f])) for w, f in cv.VOLUME_WINDOWS] + list(extra)
    return [
        (cv.count_surprise(count, window, shape, rate), ratio)
        for (window, count), (_, ratio) in zip(counts, windows, strict=True)
    ]


def test_surprises_left_out_change_neither_the_volume_term_nor_unusual_counts() -> None:
    low_start = cc.ScoreConfig(volume_ratio=(1.0, 3.0), volume_freeze=(2.0, 1.2))
    skipped = 0
    for report, feed, _ in replayed():
        for cfg in (CFG.score, low_start):
            for extra in ((), ((90.0, int(report["posts"])),)):
                fast, plain = (
                    cv.count_windows(report, cfg, feed, extra),
                    plain_windows(report, cfg, feed, extra),
                )
                skipped += sum(f != p for f, p in zip(fast, plain, strict=True))
                assert cv.volume_of(fast, cfg).hex() == cv.volume_of(plain, cfg).hex()
                surprise, ratio = cfg.volume_freeze
                assert any(s >= surprise and r >= ratio for s, r in fast) == any(
                    s >= surprise and r >= ratio for s, r in plain
                )
    assert skipped > 100  # the shortcut is taken (calm windows with posts)


def test_hot_story_terms_do_not_depend_on_the_stories_order() -> None:
    rng = random.Random(3)
    score = CFG.score
    for report, feed, _ in replayed():
        shuffled = {**report, "stories": rng.sample(report["stories"], len(report["stories"]))}
        for term in (cs.spread_term, cs.leaders_term, cs.reach_term):
            value = term(report, score, feed)
            assert term(shuffled, score, feed) == value
            assert value is None or (not math.isnan(value) and math.copysign(1.0, value) == 1.0)


def test_crisis_score_equals_its_plain_form_bit_for_bit() -> None:
    rng = random.Random(5)
    choices = (None, 0.0, 1.0, 0.3, 1e-9)
    cases = [cs.evidence_terms(r, CFG.score, f) for r, f, _ in replayed()]
    cases += [{t: rng.choice((*choices, rng.random())) for t in cc.TERMS} for _ in range(2000)]
    weighted = cc.ScoreConfig(weight_anomaly=0.4, weight_intent=0.0, min_known_weight=0.0)
    for terms in cases:
        for cfg in (CFG.score, weighted):
            assert cs.crisis_score(terms, cfg).hex() == old_crisis_score(terms, cfg).hex()


def test_remembered_special_functions_equal_scipy() -> None:
    rng = random.Random(11)
    for _ in range(500):
        shape, x = rng.uniform(0.5, 500.0), rng.random()
        count = rng.randrange(1, 200)
        for _ in range(2):  # computed, then remembered
            assert cv.gamma_quantile(shape, 0.95) == float(special.gammaincinv(shape, 0.95))
            assert cv.beta_tail(count, shape, x) == float(special.betainc(count, shape, x))
