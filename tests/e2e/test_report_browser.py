"""The report in a real headless Chromium: visible, offline, error-free.

Chromium is Debian's package, installed in the runtime by the setup
(tooling/runtime.py); Playwright only drives it. The screenshots are kept as
test artifacts under out/test-artifacts/ (MHP_TEST_ARTIFACTS moves them): the first
screen and the whole page of a blocked run, and the first screen of a pushed retrain
(docs/ holds copies).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from components.report.component import HTML_FILE
from pipeline.config import REPO_ROOT

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), "Debian's chromium is part of the runtime; rebuild it with `make setup`"
    return path


def test_report_renders_in_headless_chromium_without_requests_or_errors(runs, tmp_path):
    from playwright.sync_api import sync_playwright

    config, artifacts, _, _ = runs["corrupted"]
    page_path = Path(artifacts.report) / HTML_FILE
    page_url = page_path.as_uri()
    artifacts_dir = Path(os.environ.get("MHP_TEST_ARTIFACTS", REPO_ROOT / "out" / "test-artifacts"))
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    requests, problems = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium(), args=CHROMIUM_FLAGS, env={**os.environ, "HOME": str(tmp_path)}
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(page_url, wait_until="load")
        verdict = page.locator("#verdict")
        assert verdict.is_visible()
        assert "Blocked" in verdict.inner_text()
        for head in config.model.heads:
            section = page.locator(f"#head-{head.name}")
            assert section.is_visible(), head.name
            assert head.name in section.locator("h2").inner_text()
        assert page.locator("#head-delay_band h2 .fail").is_visible()
        assert page.locator("svg").count() >= len(config.model.heads)
        # The first screen holds the verdict and every head's row, with the failing head marked.
        heads_table = page.locator("#heads")
        assert heads_table.is_visible()
        box = heads_table.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, box
        assert heads_table.locator("tr").count() == len(config.model.heads) + 1
        assert heads_table.locator(".fail").count() == 1
        # One line per failed head in the verdict box, the full list of reasons collapsed under it, and
        # what changed since the baseline: all on the first screen.
        assert page.locator("#verdict > ul > li").count() == 1
        assert page.locator("#verdict details").is_visible()
        assert not page.locator("#verdict details li").first.is_visible()
        changes = page.locator("#changes")
        assert changes.is_visible() and "What changed since the baseline" in changes.inner_text()
        assert "Training window: span-1 -> span-1, span-2" in changes.inner_text()
        first_screen = artifacts_dir / "report-blocked-first-screen.png"
        page.screenshot(path=str(first_screen))
        screenshot = artifacts_dir / "report-blocked-run.png"
        page.screenshot(path=str(screenshot), full_page=True)
        # A pushed retrain's first screen: the verdict, what changed (only the data), every head passing.
        pushed_url = (Path(runs["clean"][1].report) / HTML_FILE).as_uri()
        page.goto(pushed_url, wait_until="load")
        assert "Pushed" in page.locator("#verdict").inner_text()
        assert "Only the data changed" in page.locator("#changes").inner_text()
        assert page.locator("#heads .fail").count() == 0
        pushed_screen = artifacts_dir / "report-pushed-first-screen.png"
        page.screenshot(path=str(pushed_screen))
        browser.close()
    assert requests == [page_url, pushed_url]  # the pages themselves, and nothing else
    assert problems == []
    assert screenshot.stat().st_size > 10_000 and first_screen.stat().st_size > 10_000
    assert pushed_screen.stat().st_size > 10_000
