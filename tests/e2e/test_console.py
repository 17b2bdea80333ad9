"""The console in a real browser (Debian's Chromium driven by Playwright) against the service
on its embedded default: the whole flow by clicks, and a contract error shown for bad input.
Screenshots go to test-artifacts/."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import RunningService

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# no network but 127.0.0.1 here: keep Chromium from reaching out on its own
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is required for the console tests: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, service: RunningService) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    page.goto(f"{service.base_url}/console/#token={service.token('console-user')}")
    yield page
    context.close()


def test_the_whole_flow_by_clicks(page: Page) -> None:
    expect(page.get_by_text("Signed in as console-user")).to_be_visible()
    page.get_by_label("Prompt").fill("A lighthouse at dusk, poster style")
    page.get_by_label("Format").select_option("tiktok")
    page.get_by_label("Tone").select_option("bold")
    page.get_by_role("button", name="Generate samples").click()

    samples = page.locator("#samples img")
    expect(samples).to_have_count(4, timeout=30_000)
    expect(page.locator("#status-text")).to_have_text("awaiting selection")
    for image in samples.all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") == 288
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-samples.png"), full_page=True)

    page.get_by_label("High (4K)").check()
    page.get_by_role("button", name="Use sample 2").click()
    expect(page.locator("#status-text")).to_have_text("completed", timeout=60_000)
    final = page.get_by_role("img", name="The final creative")
    expect(final).to_be_visible()
    expect(final).to_have_js_property("naturalWidth", 2160, timeout=30_000)
    download = page.get_by_role("link", name="Download the final image (2160x3840)")
    href = download.get_attribute("href") or ""
    assert "/content?expires=" in href  # a signed link of its own, no token needed
    assert page.request.get(href).headers["content-type"] == "image/png"
    page.screenshot(path=str(ARTIFACTS / "console-final.png"), full_page=True)
    expect(page.locator("#recent li").first).to_contain_text("completed")


@pytest.fixture
def creative_page(browser: Browser, service: RunningService) -> Iterator[Page]:
    """A user of its own, so the balance is this test's alone."""
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    page.goto(f"{service.base_url}/console/#token={service.token('console-creative')}")
    yield page
    context.close()


def test_rounds_variations_finals_seeds_and_balance_by_clicks(creative_page: Page) -> None:
    """The creative session of contract §7 by clicks: a seeded round, a strong variation of one
    sample, a final from the variation, then a 4K final from the first round."""
    page = creative_page
    expect(page.locator("#balance")).to_have_text("Balance: 10 credits (free)")
    page.get_by_label("Prompt").fill("A paper lantern, ink drawing")
    page.get_by_label("Format").select_option("instagram_post")
    page.get_by_label("Seed").fill("42")
    page.get_by_label("Avoid").fill("text")
    page.get_by_role("button", name="Generate samples").click()

    first = page.locator(".round").first
    expect(first.locator("h3")).to_have_text("Round 1 · from the prompt · seed 42", timeout=30_000)
    expect(first.locator("figcaption")).to_have_text(["Seed 42", "Seed 43", "Seed 44", "Seed 45"])

    page.get_by_label("Strong").check()
    page.get_by_role("button", name="Vary sample 2 of round 1").click()
    newest = page.locator(".round").first
    expect(newest.locator("h3")).to_have_text(
        "Round 2 · strong variation of sample 2 of round 1 · seed 43", timeout=30_000
    )
    expect(newest.locator("img")).to_have_count(4)
    expect(page.locator(".round")).to_have_count(2)

    page.get_by_role("button", name="Use sample 1 of round 2").click()
    expect(page.locator("#status-text")).to_have_text("completed", timeout=60_000)
    page.get_by_label("High (4K)").check()
    page.get_by_role("button", name="Use sample 3 of round 1").click()
    expect(page.locator("#finals li")).to_have_count(2, timeout=60_000)
    expect(page.locator("#status-text")).to_have_text("completed", timeout=60_000)
    expect(page.locator("#finals li").nth(1)).to_contain_text(
        "Final 2 (3840x3840) from sample 3 of round 1, high, 2 credits"
    )
    expect(page.get_by_role("img", name="The final creative")).to_have_js_property(
        "naturalWidth", 3840, timeout=30_000
    )
    # 10 - two rounds (0.25 each) - a standard final (1) - a 4K final (2)
    expect(page.locator("#balance")).to_have_text("Balance: 6.5 credits (free)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-rounds-and-finals.png"), full_page=True)


def test_a_bad_input_shows_the_contract_error(page: Page) -> None:
    page.get_by_label("Prompt").fill("   ")
    page.get_by_role("button", name="Generate samples").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Invalid input: prompt.")
    expect(alert).to_contain_text("prompt:")
    page.screenshot(path=str(ARTIFACTS / "console-error.png"), full_page=True)


def test_signing_in_by_pasting_a_token(browser: Browser, service: RunningService) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.goto(f"{service.base_url}/console/")
    page.get_by_label("Bearer token").fill(service.token("pasted-user"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as pasted-user")).to_be_visible()
    expect(page.get_by_label("Format")).to_be_visible()
    context.close()
