"""Table state written by change: the signals parts and the detector's anomaly model are handed
to the table only when they changed, and a worker rebuilt from what was written is the worker
that wrote it (same state to the byte, same reports and alerts after). On real posts: the
twitter15 cascades (stories that close, so the forecast calibrator learns) and the airline
tweets through the whole chain."""

from __future__ import annotations

import base64
import os
import pickle
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.models import hst_state, state_log
from pipeline.models.crisis import ANOMALY_PARTS, CrisisConfig, CrisisDetector
from pipeline.models.crisis_anomaly import AnomalyModel
from pipeline.models.crisis_config import ScoreConfig
from pipeline.models.leaders import LeaderConfig
from pipeline.models.sentiment import SentimentModel, SentimentScore
from pipeline.models.signals import PARTS, SignalsConfig, SubjectSignalsModel
from pipeline.models.story_types import StoryConfig
from pipeline.runtime.settings import PACKAGE_DATA, Settings
from pipeline.tools.offline import run_offline
from pipeline.tools.sources import read_posts

REAL = Path(__file__).resolve().parents[2] / "data" / "real"
# A configuration whose stories close within these cascades' hours, so the calibrator learns.
CONFIG = SignalsConfig()


def scored_cascades() -> list[tuple[dict[str, Any], SentimentScore]]:
    posts = [orjson.loads(m) for m in read_posts(REAL / "twitter15_small_trees.jsonl", True)]
    scores = SentimentModel().score_many([p["text"] for p in posts])
    return list(zip(posts, scores, strict=True))


@pytest.fixture(scope="module")
def cascade_posts() -> list[tuple[dict[str, Any], SentimentScore]]:
    return scored_cascades()


def evicting_config(cap: int) -> SignalsConfig:
    """Caps small enough that leaders and stories evict all along."""
    return SignalsConfig(
        leaders=LeaderConfig(max_authors=cap),
        stories=StoryConfig(max_active_stories=10, max_recent_posts=3 * cap),
    )


def batches(items: list[Any], seed: int = 3) -> list[list[Any]]:
    """Batches of 1 to 60 items, as a stage takes them under varying load."""
    rng, out, i = random.Random(seed), [], 0
    while i < len(items):
        n = rng.choice((1, 1, 2, 5, 20, 60))
        out.append(items[i : i + n])
        i += n
    return out


def write(table: dict[str, bytes], changes: dict[str, Any], key: str = "") -> None:
    """What a table write leaves on the changelog: the value serialised at write time."""
    for part, value in changes.items():
        if value is None:  # a deletion: the key is gone (a tombstone on the changelog)
            del table[f"{key}{part}"]
        else:
            table[f"{key}{part}"] = orjson.dumps(value)


def loaded(table: dict[str, bytes]) -> SubjectSignalsModel:
    """A worker's model rebuilt from what the table holds."""
    return SubjectSignalsModel.load(
        "acme", CONFIG, lambda key: orjson.loads(table[key]) if key in table else None
    )


def test_signals_writes_only_what_changed_and_what_it_wrote_is_the_live_state(
    cascade_posts: list[tuple[dict[str, Any], SentimentScore]],
) -> None:
    model = SubjectSignalsModel("acme", CONFIG)
    table: dict[str, bytes] = {}
    skipped: dict[str, int] = dict.fromkeys(PARTS, 0)
    deltas = snapshots = 0
    for batch in batches(cascade_posts):
        for post, score in batch:
            model.learn_one(post, score)
        changes = model.take_changed_parts()
        write(table, changes)
        for part in PARTS:
            skipped[part] += not any(k == part or k.startswith(f"{part}+") for k in changes)
        deltas += any(key.startswith("leaders+") for key in changes)
        snapshots += "leaders" in changes
        # Every part, written whole or as deltas or not at all, is on the table as it is in
        # memory (the model's own notes, checked here the expensive way), order included.
        live, rebuilt = model.state_parts(), loaded(table).state_parts()
        assert {p: orjson.dumps(rebuilt[p]) for p in PARTS if p in table} == {
            p: orjson.dumps(live[p]) for p in PARTS if p in table
        }
        assert model.take_changed_parts() == {}  # nothing new since
    # The calibrator changes only when stories close; the rest with nearly every post.
    assert skipped["forecast"] > 2 * skipped["meta"]
    assert set(table) >= set(PARTS)  # every part was written at some point
    # Most batches write the leaders as a delta, not the whole 1,000 authors.
    assert deltas > 2 * snapshots > 0


def test_signals_rebuilt_from_what_it_wrote_reports_as_the_one_that_ran_on(
    cascade_posts: list[tuple[dict[str, Any], SentimentScore]],
) -> None:
    half = len(cascade_posts) // 2
    live = SubjectSignalsModel("acme", CONFIG)
    table: dict[str, bytes] = {}
    for batch in batches(cascade_posts[:half]):
        for post, score in batch:
            live.learn_one(post, score)
        write(table, live.take_changed_parts())
    restarted = loaded(table)
    ran_on = [orjson.dumps(r) for p, s in cascade_posts[half:] for r in live.learn_one(p, s)]
    again = [orjson.dumps(r) for p, s in cascade_posts[half:] for r in restarted.learn_one(p, s)]
    assert ran_on and again == ran_on


def test_a_state_written_whole_by_the_code_before_loads_and_takes_deltas(
    cascade_posts: list[tuple[dict[str, Any], SentimentScore]],
) -> None:
    live = SubjectSignalsModel("acme", CONFIG)
    for post, score in cascade_posts[:300]:
        live.learn_one(post, score)
    # What the code before wrote: every part whole, no generation, no deltas.
    table = {p: orjson.dumps(v) for p, v in live.state_parts().items()}
    restarted = loaded(table)
    for post, score in cascade_posts[300:320]:
        live.learn_one(post, score)
        restarted.learn_one(post, score)
    changes = restarted.take_changed_parts()
    assert {"leaders+0", "stories+0"} <= set(changes)
    assert not {"leaders", "stories"} & set(changes)
    # Spread is small on these cascades: whole when a delta would not be smaller.
    assert ("spread" in changes) != ("spread+0" in changes)
    write(table, changes)
    rebuilt = loaded(table)
    for part in ("leaders", "stories"):
        # The same, but for the generation and delta count the new code keeps in the state.
        assert orjson.loads(orjson.dumps(rebuilt.state_parts()[part])) == {
            **orjson.loads(orjson.dumps(live.state_parts()[part])),
            "gen": 0,
            "deltas": 1,
            "logged": len(table[f"{part}+0"]),  # the bytes of its generation's deltas
        }


@pytest.mark.parametrize("cap", [30, 200])
def test_deltas_with_evictions_load_to_the_live_state_in_order(
    cap: int, cascade_posts: list[tuple[dict[str, Any], SentimentScore]]
) -> None:
    """Small caps evict all along: removals, re-added keys, changed entries in the deltas."""
    config = evicting_config(cap)
    model = SubjectSignalsModel("acme", config)
    table: dict[str, bytes] = {}
    kinds: list[str] = []
    written: list[dict[str, Any]] = []
    deleted: list[str] = []
    for batch in batches(cascade_posts, seed=cap):
        for post, score in batch:
            model.learn_one(post, score)
        changes = model.take_changed_parts()
        write(table, changes)
        kinds.extend(changes)
        written.extend(orjson.loads(orjson.dumps(v)) for k, v in changes.items() if "+" in k and v)
        deleted.extend(k for k, v in changes.items() if v is None)
        keys = list(changes)
        for key in (k for k, v in changes.items() if v is None):  # after the snapshot
            assert keys.index(key.split("+")[0]) < keys.index(key)
        rebuilt = SubjectSignalsModel.load(
            "acme", config, lambda key: orjson.loads(table[key]) if key in table else None
        )
        for part in ("leaders", "stories", "spread"):
            assert orjson.dumps(rebuilt.state_parts()[part]) == orjson.dumps(
                model.state_parts()[part]
            )
        assert list(rebuilt.leaders.state["authors"]) == list(model.leaders.state["authors"])
        assert list(rebuilt.stories.state["posts"]) == list(model.stories.state["posts"])
    logged = [c for d in written for c in d["entries"].values()]
    assert sum(len(removed) for removed, _, _ in logged) > 0
    assert sum(len(in_place) for _, in_place, _ in logged) > 0  # reposts' parents' counts
    assert any(d["lists"].get("closed") for d in written)
    # A snapshot deletes the deltas before it: only the current generation's stay.
    assert deleted and all("+" in k for k in deleted)
    assert all(
        orjson.loads(v)["gen"] == orjson.loads(table[k.split("+")[0]])["gen"]
        for k, v in table.items()
        if "+" in k
    )  # closed summaries by their ends
    assert list(rebuilt.spread.state["authors"]) == list(model.spread.state["authors"])
    for part in ("leaders", "stories"):  # spread, on cascades hours apart: mostly whole
        assert kinds.count(part) > 1  # whole again once the deltas add up
        assert kinds.count(f"{part}+1") > 1
        assert f"{part}+{state_log.MAX_DELTAS}" not in kinds


def written_bytes(cap: int = 30) -> bytes:
    """Every value the evicting scenario above writes, serialised, in order."""
    model = SubjectSignalsModel("acme", evicting_config(cap))
    out = []
    for batch in batches(scored_cascades(), seed=cap):
        for post, score in batch:
            model.learn_one(post, score)
        out.append(orjson.dumps(model.take_changed_parts()))
    return b"\n".join(out)


def test_the_same_stream_writes_the_same_bytes_in_every_process() -> None:
    """Removed and changed-in-place keys are listed in the order noted, not in a set's order
    (which follows the per-process string hash): two processes, two hash seeds, same bytes."""
    deltas = [orjson.loads(line) for line in written_bytes().split(b"\n")]
    logged = [
        c for d in deltas for k, v in d.items() if "+" in k and v for c in v["entries"].values()
    ]
    assert any(len(removed) > 1 for removed, _, _ in logged)  # an order to get wrong
    assert any(len(in_place) > 1 for _, in_place, _ in logged)
    code = "from tests.unit.models.test_state_changes import written_bytes as w; " + (
        "import sys, hashlib; sys.stdout.write(hashlib.sha256(w()).hexdigest())"
    )
    root = Path(__file__).resolve().parents[3]
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests


def test_a_held_post_changes_meta_only(
    cascade_posts: list[tuple[dict[str, Any], SentimentScore]],
) -> None:
    model = SubjectSignalsModel("acme", CONFIG)
    post, score = cascade_posts[0]
    model.learn_one(post, score)  # a subject's first post waits for the next to confirm it
    assert set(model.take_changed_parts()) == {"meta"}


def learnt_anomaly(n: int, seed: int = 5) -> AnomalyModel:
    model = AnomalyModel(ScoreConfig())
    rng = random.Random(seed)
    for _ in range(n):
        model.learn_one({f"f{k}": rng.random() for k in range(6)})
    return model


@pytest.mark.parametrize("learnt", [0, 1, 59, 60, 250])
def test_anomaly_model_parts_give_back_the_same_model(learnt: int) -> None:
    model = learnt_anomaly(learnt)
    parts = orjson.loads(orjson.dumps(model.take_changes()))
    assert set(parts) == {"structure", "masses"}
    again = AnomalyModel(ScoreConfig(), parts=parts)
    assert pickle.dumps(again.model) == pickle.dumps(model.model)
    assert again.learned == model.learned
    assert again.take_changes() == {}  # loaded as written: nothing to write back


@pytest.mark.parametrize("learnt", [0, 59, 250])
def test_packed_masses_are_each_nodes_masses_in_order(learnt: int) -> None:
    model = learnt_anomaly(learnt).model
    packed = hst_state.pack_masses(model)
    raw = zlib.decompress(base64.b64decode(packed["masses"]))
    plain = [m for node in hst_state._nodes(model) for m in (node.l_mass, node.r_mass)]
    assert raw == struct.pack(f"<{len(plain)}{'H' if packed['dtype'] == '<u2' else 'Q'}", *plain)
    assert learnt == 0 or any(plain)


def test_anomaly_model_writes_its_structure_once_and_masses_when_it_learnt() -> None:
    model = learnt_anomaly(0)
    assert set(model.take_changes()) == {"structure", "masses"}  # never written
    model.learn_one({"f0": 0.5})  # builds the trees
    assert set(model.take_changes()) == {"structure", "masses"}
    assert model.take_changes() == {}
    model.score_one({"f0": 0.5})
    assert model.take_changes() == {}  # scoring changes nothing
    model.learn_one({"f0": 0.2})
    changes = model.take_changes()
    assert set(changes) == {"masses"}
    # The masses are a small fraction of the whole model (~20 KB packed, per write before).
    assert len(orjson.dumps(changes)) * 5 < len(hst_state.pack_model(model.model))


def test_masses_of_another_structure_are_refused() -> None:
    masses = learnt_anomaly(10).take_changes()["masses"]
    other = learnt_anomaly(0)
    with pytest.raises(ValueError):
        hst_state.apply_masses(other.model, masses)


def reports_of(messages: list[bytes], watchlist: WatchList) -> list[dict[str, Any]]:
    run = run_offline(messages, watchlist, keep_reports=True)
    return [orjson.loads(r.to_bytes()) for r in run.kept_reports]


@pytest.fixture(scope="module")
def airline() -> list[dict[str, Any]]:
    """Six airlines' ordinary days (their first 5,000 tweets): thousands of reports, so every
    detector's anomaly model learns past its warm-up and scores."""
    messages = list(read_posts(PACKAGE_DATA / "airline_tweets_2015.csv", sort_by_time=True))
    return reports_of(messages[:5_000], WatchList.load(Settings().watchlist_file()))


@pytest.fixture(scope="module")
def crises() -> list[dict[str, Any]]:
    """Four CrisisLexT26 disasters' streams, one after another: five alerts."""
    folder = REAL / "crisislex_t26"
    watchlist = WatchList.load(folder / "watchlist.toml")
    return [
        report
        for path in sorted(folder.glob("20*.jsonl"))
        for report in reports_of(list(read_posts(path, sort_by_time=True)), watchlist)
    ]


class Run:
    def __init__(self) -> None:
        self.alerts: list[bytes] = []
        self.scores: list[tuple[str, float]] = []
        self.writes: dict[str, int] = {}
        self.final: dict[str, Any] = {}


def detect_with_restarts(
    reports: list[dict[str, Any]], restart_every: int, old_format: bool = False
) -> Run:
    """The detectors over ``reports`` in batches of 20, each rebuilt from its table every
    ``restart_every`` batches (with ``old_format``, the table until then is what the code
    before wrote: everything in one value)."""
    config = CrisisConfig()
    table: dict[str, bytes] = {}
    detectors: dict[str, CrisisDetector] = {}
    run = Run()
    for n, start in enumerate(range(0, len(reports), 20)):
        touched = set()
        for report in reports[start : start + 20]:
            subject = report["subject"]
            detector = detectors.get(subject) or detectors.setdefault(
                subject, CrisisDetector(subject, config)
            )
            run.alerts.extend(a.to_bytes() for a in detector.learn_one(report))
            run.scores.append((subject, detector.score))
            touched.add(subject)
        for subject in sorted(touched):
            if old_format:
                table[f"{subject}/state"] = orjson.dumps(detectors[subject].state)
                continue
            changes = detectors[subject].take_changes()
            for part in changes:
                run.writes[part] = run.writes.get(part, 0) + 1
            write(table, changes, f"{subject}/")
        if n % restart_every == restart_every - 1:
            old_format = False  # the restarted worker runs today's code on the old state

            def load(key: str) -> Any:
                return orjson.loads(table[key]) if key in table else None

            detectors = {
                s: CrisisDetector(
                    s, config, load(f"{s}/state"), {p: load(f"{s}/{p}") for p in ANOMALY_PARTS}
                )
                for s in detectors
            }
    # As JSON values (key order aside), the anomaly model pickled whole.
    run.final = {s: orjson.loads(orjson.dumps(d.state)) for s, d in detectors.items()}
    return run


@pytest.mark.parametrize("data", ["airline", "crises"])
def test_detector_rebuilt_from_its_changes_is_the_one_that_ran_on(
    data: str, request: pytest.FixtureRequest
) -> None:
    reports = request.getfixturevalue(data)
    never = detect_with_restarts(reports, restart_every=10**9)
    restarted = detect_with_restarts(reports, restart_every=3)
    assert restarted.alerts == never.alerts
    assert restarted.scores == never.scores
    assert restarted.final == never.final  # the anomaly model too, pickled to the byte
    # The structure once per subject; the masses only in batches where the detector learnt.
    assert restarted.writes["anomaly-structure"] == len(never.final)
    assert restarted.writes["anomaly-masses"] <= restarted.writes["state"]
    if data == "crises":
        assert len(never.alerts) == 5
        # In a crisis the detector does not learn (only ordinary reports teach what is
        # ordinary): its masses are not rewritten then.
        assert restarted.writes["anomaly-masses"] < restarted.writes["state"]
    else:
        warm = ScoreConfig().anomaly_warm_reports
        assert len(reports) > 6 * warm and never.alerts == []


@pytest.mark.parametrize("data", ["airline", "crises"])
def test_a_state_of_the_older_format_loads_to_the_same_detector(
    data: str, request: pytest.FixtureRequest
) -> None:
    reports = request.getfixturevalue(data)
    never = detect_with_restarts(reports, restart_every=10**9)
    from_old = detect_with_restarts(reports, restart_every=7, old_format=True)
    assert (from_old.alerts, from_old.scores, from_old.final) == (
        never.alerts,
        never.scores,
        never.final,
    )
    # The old state's model, written in its new parts on the first batch after the restart.
    assert from_old.writes["anomaly-structure"] >= 1


def test_a_redelivered_report_writes_nothing(crises: list[dict[str, Any]]) -> None:
    detector = CrisisDetector(crises[0]["subject"], CrisisConfig())
    detector.learn_one(crises[0])
    assert set(detector.take_changes()) == {"state", *ANOMALY_PARTS}
    detector.learn_one(crises[0])  # at-least-once: the same report again
    assert detector.take_changes() == {}
