"""What a subscriber gets: filters by subject and severity, readable rendering, and a webhook
forwarder that retries and never blocks (against a real HTTP server on loopback)."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from rich.console import Console

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.alert_feed import AlertFilter, printable, render_alert
from pipeline.tools.offline import run_offline
from pipeline.tools.scenario import crisis_scenario, encoded
from pipeline.tools.webhook import WebhookForwarder
from schemas import Alert


@pytest.fixture(scope="module")
def crisis_alerts() -> list[Alert]:
    posts, _ = crisis_scenario()
    return run_offline(encoded(posts), WatchList.load(Settings().watchlist_file())).alerts


def test_filter_by_subject_and_minimum_severity_keeps_whole_alerts(
    crisis_alerts: list[Alert],
) -> None:
    assert crisis_alerts[0].severity == "medium" and crisis_alerts[-1].severity == "critical"
    only_critical = AlertFilter((), "critical")
    shown = [a.state for a in crisis_alerts if only_critical.wants(a)]
    assert shown[0] == "escalated" and shown[-1] == "resolved"  # from the first critical event
    assert [a for a in crisis_alerts if AlertFilter(("delta",)).wants(a)] == []
    assert all(AlertFilter(("united",), "low").wants(a) for a in crisis_alerts)


def test_rendering_shows_origin_and_next_step(crisis_alerts: list[Alert]) -> None:
    console = Console(width=120, record=True)
    console.print(render_alert(crisis_alerts[-2]))
    text = console.export_text()
    assert "ESCALATED" in text and "critical" in text
    assert "origin youtube g0 by @musician (youtube > twitter" in text
    assert "next: mitigate" in text
    # The scenario's angry posts say what they will do ("never flying with you again").
    assert "intent to act" in text and "boycott" in text
    # By the end, the story had reached the news too.
    console = Console(width=120, record=True)
    console.print(render_alert(crisis_alerts[-1]))
    assert "origin youtube g0 by @musician (youtube > twitter > news)" in console.export_text()


HOSTILE = ["\x1b]0;PWNED\x07\x1b[2J", "\u202eevil\u202c", "\x9b31m", "\x00\x7f", "a\nb\rc"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_control_codes_from_posts_reach_the_terminal_escaped(
    crisis_alerts: list[Alert], hostile: str
) -> None:
    # Issue 16, defect 6: \x1b]0;PWNED\x07\x1b[2J in a post retitled and cleared the terminal.
    record = crisis_alerts[-2].model_dump(mode="json")
    record["evidence"][0]["text"] = f"@united {hostile} guitar"
    record["evidence"][0]["author_handle"] = hostile
    record["origin"]["initiator_handle"] = hostile
    record["origin"]["first_post"]["id"] = hostile
    record["impact"]["opinion_leaders"][0]["handle"] = hostile
    record["playbook"]["action"] += f" @{hostile}"
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=200).print(
        render_alert(Alert.model_validate(record))
    )
    shown = buffer.getvalue()
    # Only rich's own styling (SGR: ESC [ ... m) may reach the terminal, nothing from the post.
    assert re.sub(r"\x1b\[[0-9;]*m", "", shown).count("\x1b") == 0
    for char in "\x07\x00\x7f\x9b\r\u202e\u202c":
        assert char not in shown
    # Every field, escaped and visible (the post text has its whitespace folded first).
    assert shown.count(printable(hostile)) >= 5


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StartServer = Callable[[Handler], Awaitable[str]]


@pytest.fixture
async def server() -> AsyncIterator[StartServer]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/hook", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/hook"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_webhook_retries_until_delivered(
    server: StartServer, crisis_alerts: list[Alert]
) -> None:
    received: list[bytes] = []
    calls = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return web.Response(status=503)
        received.append(await request.read())
        return web.Response(status=204)

    url = await server(flaky)
    async with WebhookForwarder(url, backoff=0.01) as forwarder:
        assert forwarder.submit(crisis_alerts[0])
    assert (forwarder.stats.delivered, forwarder.stats.attempts, forwarder.stats.failed) == (
        1,
        3,
        0,
    )
    assert [Alert.from_bytes(body) for body in received] == [crisis_alerts[0]]


async def test_slow_webhook_never_blocks_and_failures_are_counted(
    server: StartServer, crisis_alerts: list[Alert]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(status=200)

    url = await server(slow)
    async with WebhookForwarder(url, timeout=0.2, max_attempts=2, backoff=0.01) as forwarder:
        started = time.monotonic()
        for alert in crisis_alerts:
            assert forwarder.submit(alert)
        assert time.monotonic() - started < 0.05  # submitting only queues
    assert forwarder.stats.failed == len(crisis_alerts)
    assert forwarder.stats.delivered == 0


async def test_a_refusing_webhook_is_not_retried(
    server: StartServer, crisis_alerts: list[Alert]
) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=400)

    url = await server(refuse)
    async with WebhookForwarder(url, backoff=0.01) as forwarder:
        forwarder.submit(crisis_alerts[0])
    assert (forwarder.stats.attempts, forwarder.stats.failed) == (1, 1)
