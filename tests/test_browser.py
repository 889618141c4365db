"""A real browser (Debian's Chromium, driven by Playwright) uses the app like a person would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from appserver import running_app

pytestmark = [pytest.mark.browser, pytest.mark.app]
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def page_url(trained_weights: Path, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: the README's test command installs it (apt-get install chromium)")
    with running_app(trained_weights, tmp_path_factory.mktemp("browser") / "app.log") as url:
        yield url


@pytest.fixture
def page(page_url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(page_url)
        page.wait_for_selector("#estimate")
        yield page
        browser.close()


def test_upload_fill_click_read_result(page, hand_png: Path, tmp_path: Path):
    page.locator("#upload input[type=file]").set_input_files(str(hand_png))
    page.get_by_role("radio", name="Female", exact=True).check()
    page.locator("#age-years input").fill("10")
    page.locator("#age-months input").fill("6")
    page.locator("#estimate").click()
    result = page.locator("#result")
    result.get_by_text("Bone age:").wait_for(timeout=60_000)
    text = result.inner_text()
    assert "Chronological age" in text and "126 months" in text
    assert "Not a diagnosis" in text
    page.locator("#model-view img").wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    if os.environ.get("BONEAGE_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["BONEAGE_SCREENSHOT_DIR"]) / "result.png"), full_page=True)


def test_bad_upload_shows_a_friendly_message(page, tmp_path: Path):
    fake = tmp_path / "xray.png"
    fake.write_text("this is not an image")
    page.locator("#upload input[type=file]").set_input_files(str(fake))
    page.get_by_role("radio", name="Male", exact=True).check()
    page.locator("#age-years input").fill("8")
    page.locator("#estimate").click()
    page.get_by_text("could not be read as an image").first.wait_for(timeout=30_000)
    assert "Traceback" not in page.content()
