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


def fill_form(page, image: Path, sex: str, years: str) -> None:
    """Upload ``image``, choose the sex by its visible label, type the age in years."""
    page.locator("#upload input[type=file]").set_input_files(str(image))
    page.get_by_role("radio", name=sex, exact=True).check()
    page.locator("#age-years input").fill(years)


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
    fill_form(page, hand_png, "Female", "10")
    page.locator("#age-months input").fill("6")
    page.locator("#estimate").click()
    result = page.locator("#result")
    result.get_by_text("Bone age:").wait_for(timeout=60_000)
    text = result.inner_text()
    assert "Chronological age" in text and "126 months" in text
    assert page.get_by_text("Not a diagnosis").count() == 1  # once on the page
    assert "Height" not in text and page.locator("#height-chart img").count() == 0  # none given: as before
    page.locator("#model-view img").wait_for(timeout=30_000)
    # The extras are made on request: the PDF after its button, the heatmap after its switch.
    assert page.locator("#report a").count() == 0
    page.locator("#make-report").click()
    page.locator("#report").get_by_text(".pdf").first.wait_for(timeout=60_000)
    assert page.locator("#heatmap img").count() == 0
    page.locator("#show-heatmap input").check()
    page.locator("#heatmap img").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    if os.environ.get("BONEAGE_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["BONEAGE_SCREENSHOT_DIR"]) / "result.png"), full_page=True)


def test_bad_upload_shows_a_friendly_message(page, tmp_path: Path):
    fake = tmp_path / "xray.png"
    fake.write_text("this is not an image")
    fill_form(page, fake, "Male", "8")
    page.locator("#estimate").click()
    message = page.locator("#result").get_by_text("could not be read as an image")
    message.wait_for(timeout=30_000)
    assert page.locator(".error").count() == 0 and "Traceback" not in page.content()  # no badge per panel


def test_the_age_is_checked_in_the_apps_own_words(page, hand_png: Path):
    """Forgotten or out of range: the result card explains (not Gradio's English toast, nor a
    result for a newborn). An infant's age may be given in months alone, as parents say it."""
    from playwright.sync_api import expect

    expect(page.locator("#age-years input")).to_have_value("", timeout=15_000)  # blank (set on load), not 0
    page.locator("#upload input[type=file]").set_input_files(str(hand_png))
    page.get_by_role("radio", name="Female", exact=True).check()
    page.locator("#estimate").click()
    page.locator("#result").get_by_text("Please enter the child's age").wait_for(timeout=30_000)
    page.locator("#age-years input").fill("25")
    page.locator("#estimate").click()
    page.locator("#result").get_by_text("between 0 and 20 years").wait_for(timeout=30_000)
    assert page.locator(".error").count() == 0 and page.locator(".toast-body").count() == 0
    page.locator("#age-years input").fill("0")
    page.locator("#age-months input").fill("18")
    page.locator("#estimate").click()
    page.locator("#result").get_by_text("Bone age:").wait_for(timeout=60_000)
    assert "18 months" in page.locator("#result").inner_text()


@pytest.fixture
def phone(page_url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page.goto(page_url)
        page.wait_for_selector("#estimate")
        yield page
        browser.close()


def test_on_a_phone_the_bone_age_is_in_view_after_submitting(phone, hand_png: Path, tmp_path: Path):
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391  # nothing overflows sideways
    assert phone.locator("#examples img").count() >= 1  # examples are pictures to tap
    intro, language = phone.locator("#intro").bounding_box(), phone.locator("#language").bounding_box()
    assert (
        intro["width"] > 300 and language["y"] >= intro["y"] + intro["height"] - 1
    )  # not squeezed side by side
    fill_form(phone, hand_png, "Female", "10")
    phone.locator("#estimate").tap()
    heading = phone.locator("#result h2")
    heading.wait_for(timeout=60_000)
    phone.wait_for_timeout(1500)  # the smooth scroll to the result
    box = heading.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    assert "Bone age" in heading.inner_text()
    phone.screenshot(path=str(tmp_path / "phone.png"))
    if os.environ.get("BONEAGE_SCREENSHOT_DIR"):
        phone.screenshot(path=str(Path(os.environ["BONEAGE_SCREENSHOT_DIR"]) / "phone.png"))


def test_language_switch_and_browser_language(page_url: str, hand_png: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(locale="zh-TW", viewport={"width": 1400, "height": 1100})
        page.goto(page_url)
        page.get_by_text("估計骨齡").first.wait_for(timeout=30_000)  # the browser's language
        fill_form(page, hand_png, "女", "10")
        page.locator("#estimate").click()
        page.locator("#result").get_by_text("骨齡：").wait_for(timeout=60_000)
        page.get_by_role("radio", name="English", exact=True).check()  # the switch
        page.get_by_text("Estimate bone age").first.wait_for(timeout=30_000)
        browser.close()


def test_shared_link_opens_the_result_in_a_fresh_browser(page_url: str, hand_png: Path):
    """Make a result, take its link, open it with no cookies or session: same bone age, a chart,
    no image; a changed link shows a plain message instead."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        parent = browser.new_context(viewport={"width": 1400, "height": 1100})
        page = parent.new_page()
        page.goto(page_url)
        fill_form(page, hand_png, "Female", "10")
        page.locator("#estimate").click()
        heading = page.locator("#result h2")
        heading.wait_for(timeout=60_000)
        bone_age = heading.inner_text()
        page.locator("#share").click()
        link_box = page.locator("#share-link textarea, #share-link input").first
        page.wait_for_function(
            "() => { const e = document.querySelector('#share-link textarea, #share-link input');"
            " return e && e.value.includes('?result='); }",
            timeout=60_000,
        )
        link = link_box.input_value()
        assert link.startswith(page_url.rstrip("/")) and "png" not in link.lower() and len(link) < 400
        parent.close()

        doctor = browser.new_context(viewport={"width": 1400, "height": 1100})  # no cookies, no session
        page = doctor.new_page()
        page.goto(link)
        page.locator("#result").get_by_text("Shared result").wait_for(timeout=60_000)
        assert page.locator("#result h2").inner_text() == bone_age
        assert "no image attached" in page.locator("#result").inner_text()
        page.locator("#chart img").wait_for(timeout=30_000)
        assert page.locator("#model-view img").count() == 0 and page.locator("#outline img").count() == 0

        payload, signature = link.split("?result=")[1].split(".")
        changed = link.replace(payload, payload[:-2] + ("AA" if not payload.endswith("AA") else "BB"))
        page.goto(changed)
        page.locator("#result").get_by_text("cannot be verified").wait_for(timeout=60_000)
        assert page.locator("#chart img").count() == 0 and "Traceback" not in page.content()
        assert "could not give a result" in page.locator("#result").inner_text()  # no image to blame
        page.goto(link[: len(link) - 20])  # cut off when copied
        page.locator("#result").get_by_text("damaged or incomplete").wait_for(timeout=60_000)
        browser.close()


def test_heights_give_a_height_chart_and_a_prediction_that_a_link_keeps(page_url: str, hand_png: Path):
    """The folded height section, filled in feet and inches: the card gains the height part, the
    height chart appears, and the shared link opens to both."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(page_url)
        fill_form(page, hand_png, "Female", "10")
        page.locator("#height-box").get_by_text("Height (optional)").click()
        page.get_by_role("radio", name="feet and inches", exact=True).check()
        page.locator("#child-height input, #child-height textarea").first.fill("4 ft 6 in")
        page.locator("#mother-height input, #mother-height textarea").first.fill("5 ft 4 in")
        page.locator("#father-height input, #father-height textarea").first.fill("5 ft 10 in")
        page.locator("#estimate").click()
        result = page.locator("#result")
        result.get_by_role("cell", name="Parents' target").wait_for(timeout=60_000)
        text = result.inner_text()
        assert "4 ft 6 in (137.2 cm)" in text and "centile for age" in text
        assert "Predicted adult height" in text or "No adult height is predicted" in text
        page.locator("#height-chart img").wait_for(timeout=30_000)
        page.locator("#share").click()
        page.wait_for_function(
            "() => { const e = document.querySelector('#share-link textarea, #share-link input');"
            " return e && e.value.includes('?result='); }",
            timeout=60_000,
        )
        link = page.locator("#share-link textarea, #share-link input").first.input_value()
        fresh = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
        fresh.goto(link)
        fresh.locator("#result").get_by_role("cell", name="Parents' target").wait_for(timeout=60_000)
        assert "4 ft 6 in (137.2 cm)" in fresh.locator("#result").inner_text()
        fresh.locator("#height-chart img").wait_for(state="attached", timeout=30_000)
        fresh.locator("#height-chart img").scroll_into_view_if_needed()  # lazy-loaded below the card
        fresh.locator("#height-chart img").wait_for(timeout=30_000)
        browser.close()
