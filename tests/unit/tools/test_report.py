"""The post-mortem page: what it says, that untrusted text is escaped, and that it renders in
headless Chromium (a real browser, not a parse)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.offline import run_offline
from pipeline.tools.report import render_report
from pipeline.tools.report_plots import leaders_bar, platforms_reached
from pipeline.tools.scenario import crisis_scenario, encoded

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page() -> str:
    posts, _ = crisis_scenario()
    video = next(p for p in posts if p["id"] == "g0")
    video["text"] += " <script>alert('x')</script> & more"  # untrusted input, shown as evidence
    run = run_offline(
        encoded(posts), WatchList.load(Settings().watchlist_file()), keep_reports=True
    )
    return render_report(run.alerts, run.kept_reports)


def test_the_page_tells_the_crisis(page: str) -> None:
    assert "Crisis post-mortem: united" in page
    assert "dab6e0ee3204bccc1a40" in page or re.search(r"alert [0-9a-f]{20}", page)
    for state in ("opened", "escalated", "resolved"):
        assert f"<td>{state}</td>" in page
    assert "g0 on youtube" in page and "@musician" in page
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) == 4  # timeline, platforms, reach, leaders
    for data in images:
        width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
        assert width > 600 and height > 60


def test_untrusted_text_is_escaped(page: str) -> None:
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_it_renders_in_headless_chromium(page: str, tmp_path: Path) -> None:
    html_file, shot = tmp_path / "report.html", tmp_path / "shot.png"
    html_file.write_text(page, encoding="utf-8")
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            html_file.as_uri(),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    colours = image.resize((320, 600)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 200  # plots and text, not a blank page


MATHTEXT = ["$\\undefinedcmd$", "${{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{$", "$x^{$", "a$b$c$"]


@pytest.mark.parametrize("handle", MATHTEXT)
def test_plots_draw_crafted_text_as_written(handle: str) -> None:
    # Issue 16, defect 5: matplotlib read $...$ in a handle as mathtext and the report crashed
    # (ValueError, RecursionError).
    assert leaders_bar([(handle, 3.5, 1_000)]).startswith("data:image/png;base64,")
    when = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
    assert platforms_reached([(handle, when)]).startswith("data:image/png;base64,")


def test_a_report_whose_leader_has_a_crafted_handle_renders() -> None:
    posts, _ = crisis_scenario()
    for post in posts:
        if post["author"]["handle"] == "musician":
            post["author"]["handle"] = MATHTEXT[0]
    run = run_offline(
        encoded(posts), WatchList.load(Settings().watchlist_file()), keep_reports=True
    )
    page = render_report(run.alerts, run.kept_reports)
    assert "@$\\undefinedcmd$" in page
