"""Kafka client security from Settings: the same SASL/SSL options for every client.

The aiokafka clients (``pipeline.runtime.kafka.client_options``: the tools, the data producer, the
admin client) take them as keyword options; faust's consumer and producer take
``broker_credentials`` (``faust.SASLCredentials`` / ``faust.SSLCredentials``), which faust turns
into the same aiokafka options (``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``).

The password is only ever handed to the clients: no message built here contains it.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from pipeline.runtime.settings import Settings


def uses_ssl(settings: Settings) -> bool:
    return settings.security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings: Settings) -> bool:
    return settings.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context (hostname checked) for SSL and SASL_SSL; None otherwise."""
    if not uses_ssl(settings):
        return None
    if settings.ssl_keyfile and not settings.ssl_certfile:
        raise ValueError("CRISISWATCH_SSL_KEYFILE is set without CRISISWATCH_SSL_CERTFILE")
    return create_ssl_context(
        cafile=settings.ssl_cafile,
        certfile=settings.ssl_certfile,
        keyfile=settings.ssl_keyfile,
    )


def _check_sasl(settings: Settings) -> None:
    if not settings.sasl_username or not settings.sasl_password:
        raise ValueError(
            f"security_protocol {settings.security_protocol} needs CRISISWATCH_SASL_USERNAME "
            "and CRISISWATCH_SASL_PASSWORD"
        )


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """Security options for any aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if uses_sasl(settings):
        _check_sasl(settings)
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password
    return options


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """faust's ``broker_credentials`` for the same settings; None for PLAINTEXT."""
    context = ssl_context(settings)
    if uses_sasl(settings):
        _check_sasl(settings)
        # With an ssl_context, faust makes the protocol SASL_SSL; without, SASL_PLAINTEXT.
        return SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None
