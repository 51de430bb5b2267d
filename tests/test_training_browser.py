"""The training page in a real browser: Debian's chromium driven by Playwright against
``hocr serve`` on a free loopback port. Opens the library, loads a worked case, changes a fact
and sees the decision change (htmx, no reload), answers a quiz question; saves the screenshots
that docs/training.md shows (docs/img/training-*.png).

In CI (``CI=true``) a missing chromium or Playwright is a failure; elsewhere the tests skip,
saying why. Playwright's own browser download is never used: the launch names /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import live_server
import pytest

from hocr.library import load_library

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "docs" / "img"
CHROMIUM = Path(os.environ.get("HOCR_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"
# The shipped example of a third party's report that the victim does not confirm.
THIRD_PARTY = next(c.id for c in load_library() if c.source.startswith("examples/third-party-not-confirmed.json"))


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run; .ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install '.[test]')")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    started = live_server.start(tmp_path_factory.mktemp("serve"))
    try:
        yield f"http://127.0.0.1:{started.port}"
    finally:
        live_server.stop(started)


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server)
    # Offline: any request to another host fails the test (it would be a fetch from the internet).
    foreign: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
                  else (foreign.append(route.request.url), route.abort()))
    opened = context.new_page()
    yield opened
    context.close()
    assert not foreign, f"the page tried to fetch from elsewhere: {foreign}"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"training-{name}.png"))


def summary(page: Any) -> str:
    text: str = page.locator("#decision-summary").inner_text()
    return text


def test_load_a_worked_case_change_a_fact_and_see_the_decision_change(page: Any) -> None:
    page.goto("/training")
    page.keyboard.press("Tab")  # keyboard first: the skip link, visible when focused
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    shot(page, "library")
    page.get_by_role("link", name="shipped examples").click()
    page.locator(f"a[href='/training/case?id={quote(THIRD_PARTY, safe='')}']").click()
    assert "not recorded as a crime (victim-not-confirmed)" in summary(page)
    shot(page, "case")
    url = page.url
    # The victim confirms: chosen by keyboard on the form's control for /victims/0/confirms_crime.
    control = page.locator("select[name='/victims/0/confirms_crime']")
    control.scroll_into_view_if_needed()
    control.select_option("true")
    page.wait_for_function("document.querySelector('#decision-summary').innerText.startsWith('Record 1 crime')")
    assert page.url == url  # the fragment was swapped in; the page did not reload
    assert "105A Assault without injury" in summary(page)
    assert page.locator("#step-confirmation").is_visible()
    page.locator("#outcome-heading").scroll_into_view_if_needed()
    shot(page, "case-changed")
    # A value of the wrong type: a clear message naming the field, and the decision gone.
    age = page.locator("input[name='/victims/0/age']")
    age.fill("forty")
    age.press("Tab")
    page.wait_for_selector("#outcome .problems")
    assert "/victims/0/age" in page.locator("#outcome .problems").inner_text()
    assert "forty" not in page.locator("#outcome").inner_text()


def test_answer_a_quiz_question(page: Any) -> None:
    page.goto("/training")
    page.get_by_role("link", name="Quiz").click()  # a random question
    assert page.locator("#scenario").inner_text()
    # the docs' question: the third party's report of an assault the woman denies
    page.goto("/training/quiz?case=" + quote(THIRD_PARTY, safe=""))
    assert "possible assault next door" in page.locator("#scenario").inner_text()
    page.get_by_label("No, not recorded").check()
    page.get_by_label("Classification").fill("105A")
    page.get_by_label("Number of crimes").fill("0")
    shot(page, "quiz")
    page.get_by_role("button", name="Answer").click()
    assert page.locator("#score").inner_text() == "Score: 3 of 3 (1 question answered)"
    assert page.locator("#marks tr").count() == 4  # a heading and the three questions
    shot(page, "quiz-answer")
    page.get_by_role("button", name="Next question").click()
    assert " of 3 (1 question answered)" in page.locator("#score").inner_text()


def test_the_rulebook_by_section(page: Any) -> None:
    page.goto("/training/rules")
    assert page.get_by_role("link", name="general/section-d").is_visible()
    shot(page, "rules")
