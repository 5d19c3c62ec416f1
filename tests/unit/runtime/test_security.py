"""Security settings: SASL/SSL reach every Kafka client, the password stays out of reprs and
messages, endpoints bind to loopback by default, and every input field is capped."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from pipeline.ingest.validation import Limits, Rejection, validate_raw
from pipeline.runtime.app import create_app
from pipeline.runtime.kafka import client_options
from pipeline.runtime.security import aiokafka_security, faust_credentials
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess
from schemas import DeadLetter, Post, SourcePosition

SECRET = "pa55-Wörd-never-logged"


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA certificate and a client certificate with its key, made by openssl."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make test certificates"
    out = tmp_path_factory.mktemp("pki")
    for name in ("ca", "client"):
        subprocess.run(
            [
                *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
                *("-nodes", "-days", "1", "-subj", f"/CN=crisiswatch-test-{name}"),
                *("-keyout", str(out / f"{name}.key"), "-out", str(out / f"{name}.pem")),
            ],
            check=True,
            capture_output=True,
        )
    return {"ca": out / "ca.pem", "cert": out / "client.pem", "key": out / "client.key"}


def sasl_ssl_environment(pems: dict[str, Path]) -> dict[str, str]:
    return {
        "CRISISWATCH_BROKER_URL": "kafka://kafka-1:9093;kafka://kafka-2:9093",
        "CRISISWATCH_SECURITY_PROTOCOL": "SASL_SSL",
        "CRISISWATCH_SASL_MECHANISM": "SCRAM-SHA-512",
        "CRISISWATCH_SASL_USERNAME": "crisiswatch",
        "CRISISWATCH_SASL_PASSWORD": SECRET,
        "CRISISWATCH_SSL_CAFILE": str(pems["ca"]),
        "CRISISWATCH_SSL_CERTFILE": str(pems["cert"]),
        "CRISISWATCH_SSL_KEYFILE": str(pems["key"]),
    }


def test_security_settings_come_typed_from_the_environment(pems: dict[str, Path]) -> None:
    settings = Settings.from_env(sasl_ssl_environment(pems))
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
    assert settings.sasl_password == SECRET
    assert settings.ssl_cafile == pems["ca"]
    defaults = Settings.from_env({})
    assert (defaults.security_protocol, defaults.sasl_password) == ("PLAINTEXT", "")
    with pytest.raises(ValueError, match="must be one of"):
        Settings.from_env({"CRISISWATCH_SECURITY_PROTOCOL": "TLS"})
    with pytest.raises(ValueError, match="must be one of"):
        Settings.from_env({"CRISISWATCH_SASL_MECHANISM": "GSSAPI"})


def test_the_password_is_not_in_the_repr_but_reaches_child_workers(pems: dict[str, Path]) -> None:
    settings = Settings.from_env(sasl_ssl_environment(pems))
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert "sasl_username='crisiswatch'" in repr(settings)
    env = settings.child_environment()
    assert env["CRISISWATCH_SASL_PASSWORD"] == SECRET
    assert Settings.from_env(env) == settings
    credentials = faust_credentials(settings)
    assert credentials is not None and SECRET not in repr(credentials)


def test_sasl_ssl_options_for_every_aiokafka_client(pems: dict[str, Path]) -> None:
    settings = Settings.from_env(sasl_ssl_environment(pems))
    options = client_options(settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": ["kafka-1:9093", "kafka-2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "crisiswatch",
        "sasl_plain_password": SECRET,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    subjects = [str(c["subject"]) for c in context.get_ca_certs()]
    assert any("crisiswatch-test-ca" in subject for subject in subjects), subjects


def test_sasl_ssl_credentials_for_faust_give_the_same_client_options(
    pems: dict[str, Path],
) -> None:
    settings = Settings.from_env(sasl_ssl_environment(pems))
    app = create_app(settings)
    credentials = app.conf.broker_credentials
    assert isinstance(credentials, SASLCredentials)
    # What faust's consumer and producer pass to aiokafka (drivers/aiokafka.py).
    faust_options: dict[str, Any] = dict(credentials_to_aiokafka_auth(credentials))
    ours = aiokafka_security(settings)
    assert isinstance(faust_options.pop("ssl_context"), ssl.SSLContext)
    ours.pop("ssl_context")
    assert faust_options == ours
    assert faust_options["security_protocol"] == "SASL_SSL"


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [("PLAINTEXT", type(None)), ("SSL", SSLCredentials), ("SASL_PLAINTEXT", SASLCredentials)],
)
def test_each_protocol_reaches_faust_and_aiokafka_alike(
    pems: dict[str, Path], protocol: str, expected: type
) -> None:
    env = sasl_ssl_environment(pems) | {"CRISISWATCH_SECURITY_PROTOCOL": protocol}
    settings = Settings.from_env(env)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, expected)
    faust_options = dict(credentials_to_aiokafka_auth(credentials))
    ours = aiokafka_security(settings)
    assert faust_options["security_protocol"] == ours["security_protocol"] == protocol
    assert ("ssl_context" in ours) == (protocol == "SSL")
    assert ("sasl_plain_password" in ours) == (protocol == "SASL_PLAINTEXT")


def test_sasl_without_a_password_is_refused() -> None:
    settings = Settings.from_env(
        {"CRISISWATCH_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "CRISISWATCH_SASL_USERNAME": "u"}
    )
    with pytest.raises(ValueError, match="CRISISWATCH_SASL_PASSWORD"):
        client_options(settings)
    with pytest.raises(ValueError, match="CRISISWATCH_SASL_PASSWORD"):
        create_app(settings)


def test_endpoints_bind_to_loopback_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    assert settings.metrics_host == "127.0.0.1"
    conf = create_app(settings).conf
    assert conf.web_enabled is False
    assert conf.web_bind == "127.0.0.1" and conf.web_host == "127.0.0.1"
    assert "--without-web" in WorkerProcess(settings, tmp_path / "w.log").command()
    elsewhere = Settings.from_env({"CRISISWATCH_METRICS_HOST": "10.0.0.5"})
    assert elsewhere.metrics_host == "10.0.0.5"  # only when configured


# --- field caps -----------------------------------------------------------------------------

LIMITS = Limits(max_raw_bytes=65_536, max_text_chars=10_000)


def body(**changes: Any) -> bytes:
    post: dict[str, Any] = {
        "id": "1",
        "platform": "twitter",
        "author": {"id": "a", "handle": "h"},
        "text": "hello",
        "created_at": "2015-02-20T10:00:00Z",
    }
    post.update(changes)
    return orjson.dumps(post)


@pytest.mark.parametrize(
    ("field", "cap", "make", "reason"),
    [
        ("id", 256, lambda n: {"id": "i" * n}, "invalid_field"),
        ("author.id", 256, lambda n: {"author": {"id": "a" * n, "handle": "h"}}, "invalid_field"),
        ("handle", 64, lambda n: {"author": {"id": "a", "handle": "h" * n}}, "invalid_field"),
        ("reply_to", 256, lambda n: {"reply_to": "r" * n}, "invalid_field"),
        ("repost_of", 256, lambda n: {"repost_of": "r" * n}, "invalid_field"),
        ("quote_of", 256, lambda n: {"quote_of": "q" * n}, "invalid_field"),
        ("url", 2048, lambda n: {"url": "https://" + "u" * (n - 8)}, "invalid_field"),
        ("platform", 32, lambda n: {"platform": "p" * n}, "invalid_field"),
        (
            "language",
            16,
            lambda n: {"language": "en-" + "x" * 8 + "-" + "y" * (n - 12)},
            "invalid_field",
        ),
        ("text", 10_000, lambda n: {"text": "t" * n}, "text_too_long"),
    ],
)
def test_every_text_field_is_capped(field: str, cap: int, make: Any, reason: str) -> None:
    assert isinstance(validate_raw(body(**make(cap)), LIMITS), Post), field
    over = validate_raw(body(**make(cap + 1)), LIMITS)
    assert isinstance(over, Rejection), field
    assert over.reason == reason


def test_timestamp_text_is_capped() -> None:
    over = validate_raw(body(created_at="2015-02-20T10:00:00Z" + "0" * 45), LIMITS)
    assert isinstance(over, Rejection)
    assert (over.reason, over.detail) == (
        "bad_timestamp",
        "created_at: Value error, timestamp text too long",
    )


def test_no_uncapped_string_field_in_the_post_schema() -> None:
    """A new string field must come with a cap (or be added to the test above)."""
    schema = Post.model_json_schema()
    uncapped = []
    for model in [schema, *schema["$defs"].values()]:
        for name, prop in model["properties"].items():
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "string" and "maxLength" not in option:
                    uncapped.append(name)
    # platform: a bounded pattern; text: max_text_chars; created_at: 64 chars when parsed.
    assert sorted(uncapped) == ["created_at", "platform", "text"]


def test_dead_letter_keeps_at_most_max_raw_bytes_of_the_key_too() -> None:
    source = SourcePosition(topic="posts.raw", partition=0, offset=1)
    letter = DeadLetter.of(b"x", "not_json", "d", source, key=b"k" * 5000, max_raw_bytes=100)
    assert len(letter.key_base64 or "") <= 4 * 100 // 3 + 4
