"""Crisiswatch settings: the one typed object, and the only code that reads the environment.

Every setting is a field of :class:`Settings`; its environment variable is the field name in
upper case with the ``CRISISWATCH_`` prefix (``broker_url`` -> ``CRISISWATCH_BROKER_URL``).
The local broker started by ``crisiswatch broker`` writes its address to
``<state_dir>/broker.json``; when no broker URL is set, that address is used, so every other
command finds the local broker without configuration.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from pipeline.models.crisis import CrisisConfig

ENV_PREFIX = "CRISISWATCH_"
BROKER_STATE_FILE = "broker.json"
DEFAULT_KAFKA_URL = "kafka://127.0.0.1:9092"
PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"

#: What a broker can be trusted with. ``kafka``: Apache Kafka and brokers that behave like it (the
#: embedded noida-db passes the conformance suite, tests/broker/); ``tansu``: Tansu 0.6.0, whose
#: defects need the workarounds below. Empty: the local broker's own (broker.json), else kafka.
BrokerProfile = Literal["", "kafka", "tansu"]
#: The broker ``crisiswatch broker``, the demo, the tools and the tests start when none is given.
LocalBrokerEngine = Literal["noida-db", "tansu"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
#: faust's processing guarantee (README "Exactly-once"); exactly_once needs broker transactions.
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]
LOG_LEVELS = ("crit", "critical", "error", "warn", "warning", "info", "debug")


class SettingsError(ValueError):
    """A setting that cannot work: refused when the settings are built, in one line."""


@dataclass(frozen=True)
class Settings:
    # --- broker -------------------------------------------------------------------------
    #: ``kafka://host:port[;host:port]``; empty means: the local broker's address, if running.
    broker_url: str = ""
    #: ``tansu`` applies the Tansu 0.6.0 workarounds (DESIGN.md); ``kafka`` (Apache Kafka,
    #: noida-db) none. Empty: the running local broker's profile, else ``kafka``.
    broker_profile: BrokerProfile = ""
    #: The local broker to start: ``noida-db`` (default: conformant, durable in state_dir) or
    #: ``tansu`` (memory only, needs workarounds; kept to compare brokers).
    local_broker: LocalBrokerEngine = "noida-db"
    #: Where local state lives: the local broker's address file, worker data.
    state_dir: Path = Path(".crisiswatch")
    #: Prefix of every topic name, for sharing a cluster (topics.py).
    topic_prefix: str = ""
    #: Faust application id: the consumer group and the prefix of table changelog topics.
    app_id: str = "crisiswatch"
    #: Partitions of the topics the pipeline creates (posts, alerts, dead letters, tables).
    partitions: int = 4
    #: Partitions of posts.raw. One keeps the arrival order of the whole input through ingest,
    #: so that per-subject event-time windows see posts in the order they were sent and a replay
    #: gives the same alerts as the live run; more scale ingest out but interleave partitions.
    raw_partitions: int = 1
    replication_factor: int = 1
    #: ``at_least_once``: a worker killed mid-stream re-sends what it had not committed (the
    #: repeats are recognisable: same alert id and revision). ``exactly_once``: each stage's
    #: outputs, table writes and source offsets commit in one broker transaction, so readers
    #: with isolation read_committed see every record once (pipeline/runtime/exactly_once.py).
    #: Refused on a broker profile without transactions (tansu).
    processing_guarantee: ProcessingGuarantee = "at_least_once"

    # --- security (pipeline/runtime/security.py; every Kafka client: faust's and aiokafka's) ------
    #: How clients talk to the brokers: SSL encrypts, SASL_* authenticates with a user name.
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username: str = ""
    #: Kept out of repr (and so out of logs and exception text); passed to child workers.
    sasl_password: str = field(default="", repr=False)
    #: PEM files: the CA that signed the brokers' certificates (empty: the system's CAs), and
    #: this client's certificate and key for mutual TLS.
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    # --- end of security ----------------------------------------------------------------

    # --- latency (README "Throughput and memory") ------------------------------------------
    #: How long the broker may hold a worker's fetch while no record is there (faust hard-codes
    #: 1500; pipeline/runtime/faust_patch.py applies this). A record waits at most about this
    #: long for each hop to fetch it; an idle worker sends a fetch this often. Both profiles.
    fetch_max_wait_ms: int = 50
    #: A stage flushes its batch when everything fetched so far has reached it
    #: (pipeline/runtime/batches.py); this is only the longest a batch waits otherwise, and the
    #: longest a batch that ran dry lingers for more. 0.1 rather than 0.5: at a quarter of
    #: capacity a probe's p50 fell 2.3-2.6x (p99 1.4-2.8x) and the full-load rate and CPU per
    #: post stayed within run-to-run noise (README "Latency under load").
    batch_max_wait_seconds: float = 0.1
    #: Allocations between two collections of CPython's youngest generation (CPython: 700); the
    #: heap as it is after the imports is frozen out of every collection
    #: (pipeline/runtime/gc_tuning.py). 0 keeps CPython's threshold.
    gc_threshold: int = 50_000

    # --- input ---------------------------------------------------------------------------
    #: TOML watch list of monitored subjects; empty means the packaged airline watch list.
    watchlist_path: Path | None = None
    #: A raw message larger than this is dead-lettered unread.
    max_raw_bytes: int = 65_536
    #: Post text longer than this (in characters) is dead-lettered.
    max_text_chars: int = 10_000
    #: A post naming more monitored subjects is dead-lettered (too_many_subjects).
    max_subjects_per_post: int = 20
    #: Recent post ids remembered by each ingest worker to drop repeats (about 100 B each).
    dedup_capacity: int = 200_000

    # --- signals ---------------------------------------------------------------------------
    #: Event-time interval between two signal reports of a subject.
    signals_interval_seconds: int = 60
    #: A post further ahead of its subject's event time waits for the subject's next post to
    #: confirm it, else is dead-lettered (future_timestamp): one post never moves the clock more.
    signals_max_ahead_seconds: int = 1800

    # --- sentiment (pipeline/models/sentiment.py; README "Sentiment") -----------------------
    #: Which sentiment model a worker runs: empty, the latest snapshot (sentiment.model topic)
    #: learning on from the feedback topic; "shipped", the shipped weights, frozen; any other
    #: value, that snapshot version, frozen (a replay pins the model it runs with).
    sentiment_model_version: str = ""
    #: Topic the snapshots are read from; empty means this deployment's own (a replay reads
    #: the live one's).
    sentiment_model_topic: str = ""
    #: While it learns from feedback, a worker writes a snapshot at most this often (seconds).
    sentiment_snapshot_seconds: float = 30.0

    # --- crisis detector (pipeline/models/crisis.py; README "Crisis detection") ------------------
    #: Score (0..1) at which a subject goes on watch; at which, in ``open_reports`` reports in
    #: a row, a crisis opens; below which, for ``resolve_seconds`` of event time, it resolves.
    crisis_watch_threshold: float = 0.30
    crisis_open_threshold: float = 0.50
    crisis_resolve_threshold: float = 0.25
    crisis_open_reports: int = 2
    crisis_resolve_seconds: int = 1800
    #: A watch that stays below the watch threshold this long (event time) ends.
    crisis_watch_reset_seconds: int = 900
    #: Weights of the evidence terms in the score (normalised by their sum).
    crisis_weight_volume: float = 0.30
    crisis_weight_sentiment: float = 0.25
    crisis_weight_spread: float = 0.15
    crisis_weight_leaders: float = 0.10
    crisis_weight_reach: float = 0.10
    crisis_weight_anomaly: float = 0.10
    crisis_weight_intent: float = 0.10
    crisis_weight_harm: float = 0.30
    #: The score's denominator is at least this weight: with few terms known (a one-platform
    #: feed without followers), one term must be nearly full to open a crisis alone.
    crisis_min_known_weight: float = 0.55
    #: Daily cycle (night to afternoon) the volume term allows for before a day of history.
    crisis_daily_amplitude: float = 5.0
    #: A projected reach at or above this raises an alert's severity one level.
    crisis_severity_reach: float = 1_000_000.0

    # --- operations ------------------------------------------------------------------------
    #: ``crisiswatch alerts --webhook``: per-request timeout, and attempts per alert.
    webhook_timeout_seconds: float = 5.0
    webhook_attempts: int = 5
    #: Prometheus metrics address of a worker; port 0 disables the endpoint.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    #: Worker log level: crit, error, warn, info or debug.
    log_level: str = "info"

    # Environment the settings came from (not a setting; kept out of repr).
    _env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CRISISWATCH_*`` variables, then ``overrides``."""
        env = dict(os.environ if environ is None else environ)
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name.startswith("_"):
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, raw, hints[f.name])
        values.update(overrides)
        return cls(_env=env, **values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def child_environment(self) -> dict[str, str]:
        """Environment for a child process (a worker) that gets exactly these settings."""
        env = {k: v for k, v in self._env.items() if not k.startswith(ENV_PREFIX)}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env

    # --- derived values ----------------------------------------------------------------------

    def crisis_config(self) -> CrisisConfig:
        from pipeline.models.crisis import CrisisConfig
        from pipeline.models.crisis_config import ScoreConfig

        return CrisisConfig(
            watch_threshold=self.crisis_watch_threshold,
            open_threshold=self.crisis_open_threshold,
            resolve_threshold=self.crisis_resolve_threshold,
            open_reports=self.crisis_open_reports,
            resolve_seconds=self.crisis_resolve_seconds,
            watch_reset_seconds=self.crisis_watch_reset_seconds,
            severity_reach=self.crisis_severity_reach,
            score=ScoreConfig(
                weight_volume=self.crisis_weight_volume,
                weight_sentiment=self.crisis_weight_sentiment,
                weight_spread=self.crisis_weight_spread,
                weight_leaders=self.crisis_weight_leaders,
                weight_reach=self.crisis_weight_reach,
                weight_anomaly=self.crisis_weight_anomaly,
                weight_intent=self.crisis_weight_intent,
                weight_harm=self.crisis_weight_harm,
                min_known_weight=self.crisis_min_known_weight,
                volume_daily_amplitude=self.crisis_daily_amplitude,
            ),
        )

    @property
    def broker_state_path(self) -> Path:
        return self.state_dir / BROKER_STATE_FILE

    def resolved_broker_url(self) -> str:
        """The configured broker URL, else the running local broker's, else localhost:9092."""
        if self.broker_url:
            return self.broker_url
        return str(self._local_broker_state().get("url") or DEFAULT_KAFKA_URL)

    def bootstrap_servers(self) -> list[str]:
        """``host:port`` list for aiokafka clients."""
        url = self.resolved_broker_url()
        servers = []
        for part in url.replace(",", ";").split(";"):
            part = part.strip()
            if "://" in part:
                part = part.split("://", 1)[1]
            if part:
                servers.append(part.rstrip("/"))
        return servers

    def _local_broker_state(self) -> dict[str, Any]:
        try:
            state = orjson.loads(self.broker_state_path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return state if isinstance(state, dict) else {}

    @property
    def profile(self) -> Literal["kafka", "tansu"]:
        """The broker profile in force: the setting, else the local broker's, else kafka."""
        if self.broker_profile:
            return self.broker_profile
        if not self.broker_url and self._local_broker_state().get("profile") == "tansu":
            return "tansu"
        return "kafka"

    @property
    def is_tansu(self) -> bool:
        return self.profile == "tansu"

    @property
    def broker_has_transactions(self) -> bool:
        """Idempotent and transactional producers work (not on Tansu 0.6.0)."""
        return not self.is_tansu

    @property
    def leave_of_a_joining_member_works(self) -> bool:
        """LeaveGroup for a member still in its JoinGroup removes it and the rebalance goes on.
        Tansu 0.6.0 then keeps the group rebalancing for good (every later JoinGroup is answered,
        no SyncGroup completes); it does not wait for such a member either, so nothing is lost
        by not evicting it there (pipeline/runtime/app.py, ``_exit_restart``)."""
        return not self.is_tansu

    @property
    def exactly_once(self) -> bool:
        return self.processing_guarantee == "exactly_once"

    def isolation_level(self) -> str:
        """For consumers of the pipeline's topics: exactly-once output is only exactly once to a
        reader that skips aborted transactions (a killed worker's unfinished ones)."""
        return "read_committed" if self.exactly_once else "read_uncommitted"

    def producer_options(self) -> dict[str, Any]:
        """Options of faust's producer (it writes the table changelogs) per broker profile.

        Tansu 0.6.0 answers ListOffsets(latest) wrongly when the last stored batch holds more
        than one record (DESIGN.md fault 1), which silently breaks changelog recovery and
        ``seek_to_end``: on Tansu every batch carries one record.
        """
        return {"max_batch_size": 1} if self.is_tansu else {}

    def group_timing(self) -> dict[str, float]:
        """Consumer group timings. Tansu holds each JoinGroup for session_timeout/2 (fault 2),
        so its session is short. Elsewhere, the Kafka client default (10 s, heartbeat 3 s): a
        crashed worker's partitions move after at most that (a restarted one evicts its dead
        predecessor at once, runtime/group_member.py); heartbeats run on faust's consumer
        thread, so a long batch does not cost the group membership."""
        if self.is_tansu:
            return {"session_timeout": 6.0, "heartbeat_interval": 1.0}
        return {"session_timeout": 10.0, "heartbeat_interval": 3.0}

    def watchlist_file(self) -> Path:
        return self.watchlist_path or PACKAGE_DATA / "watchlist.toml"


def _convert(name: str, raw: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _convert(name, raw, inner[0])
    if origin is Literal:
        if raw not in args:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be one of {args}, not {raw!r}")
        return raw
    if hint is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            raise SettingsError(
                f"{ENV_PREFIX}{name.upper()} must be a number, not {raw!r}"
            ) from None
    if hint is Path:
        return Path(raw)
    return raw


#: Settings that must be at least 1; then ranges (inclusive) of others.
_POSITIVE = (
    "partitions",
    "raw_partitions",
    "replication_factor",
    "max_raw_bytes",
    "max_text_chars",
    "max_subjects_per_post",
    "dedup_capacity",
    "signals_interval_seconds",
    "crisis_open_reports",
    "webhook_attempts",
)
_RANGES: dict[str, tuple[float, float]] = {
    "metrics_port": (0, 65_535),
    "fetch_max_wait_ms": (1, 1_500),
    "batch_max_wait_seconds": (0.001, 10),
    "gc_threshold": (0, 10_000_000),
    # Below the 2 h volume horizon: one accepted post must never make the next ones late.
    "signals_max_ahead_seconds": (1, 3_600),
    "crisis_resolve_seconds": (0, math.inf),
    "crisis_watch_reset_seconds": (0, math.inf),
    "webhook_timeout_seconds": (0.001, math.inf),
}


def _validate(settings: Settings) -> None:
    """Refuse settings that cannot work (a zero interval, a negative size, a port past 65535,
    an unknown log level) before anything starts, naming the variable."""

    def refuse(name: str, value: Any, expected: str) -> SettingsError:
        return SettingsError(f"{ENV_PREFIX}{name.upper()} must be {expected}, not {value!r}")

    for name in _POSITIVE:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise refuse(name, value, "a whole number of at least 1")
    for name, (low, high) in _RANGES.items():
        value = getattr(settings, name)
        if isinstance(value, bool) or not low <= value <= high:
            raise refuse(name, value, f"between {low:g} and {high:g}")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise refuse("log_level", settings.log_level, f"one of {', '.join(LOG_LEVELS)}")
    if settings.exactly_once and not settings.broker_has_transactions:
        raise SettingsError(
            f"{ENV_PREFIX}PROCESSING_GUARANTEE=exactly_once needs broker transactions, and the "
            f"{settings.profile} broker profile has none: use at_least_once, or a broker that "
            "has them (noida-db, Apache Kafka)"
        )
