"""report.html, as a person sees it: a compare drop with a holdout runs on the local stack, and its page is opened
in headless Chromium, which must draw every chart where its heading says (marks of non-zero size, lines of non-zero
length, one colour per version) and log nothing to the console."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from batchrecs_local import browser
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn
from tests.integration.conftest import read_object

VERSIONS = f"{solution_version_arn('users', version=1)} {solution_version_arn('users', version=2)}"
CHARTS = {"On the holdout": "rect.bar", "Popularity bias": "rect.bar", "Scores": "polyline.line"}


@pytest.fixture(scope="module")
def page(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of a real comparison: users' two local versions on the sample, with a holdout."""
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.2, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings) as stack:
        tap = EventTap(stack)
        users = [json.loads(line)["userId"] for line in (sample / "users.jsonl").read_text().splitlines()]
        items = [line.split(",")[1] for line in (sample / "interactions.csv").read_text().splitlines()[1:60]]
        holdout = "USER_ID,ITEM_ID\n" + "".join(f"{u},{items[n % len(items)]}\n" for n, u in enumerate(users * 3))
        stack.drop(holdout.encode(), "holdout/h.csv")
        metadata = {"solution-version-arn": VERSIONS, "holdout": "holdout/h.csv"}
        stack.drop((sample / "users.jsonl").read_bytes(), "input/page.jsonl", metadata)
        events = tap.collect(lambda es: any(e["detail-type"] == "Comparison Ready" for e in es), timeout=120)
        (ready,) = [e["detail"] for e in events if e["detail-type"] == "Comparison Ready"]
        path = tmp_path_factory.mktemp("page") / "report.html"
        path.write_bytes(read_object(stack, ready["html"]))
        return path


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with browser.chromium() as opened:
        yield opened


def severe(driver: WebDriver) -> list[str]:
    logs: list[dict[str, str]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in logs if entry["level"] == "SEVERE"]


def test_every_chart_is_drawn_where_its_heading_says_and_nothing_is_logged(page: Path, driver: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    driver.get(page.as_uri())
    assert driver.title.startswith("batchrecs comparison br-page-")
    for heading, mark in CHARTS.items():
        # The first chart after the heading, in the page as laid out
        (svg,) = driver.find_elements(By.XPATH, f"//h2[.='{heading}']/following-sibling::*[name()='svg'][1]")
        assert svg.size["width"] > 300 and svg.size["height"] > 100, (heading, svg.size)
        marks = svg.find_elements(By.CSS_SELECTOR, mark)
        drawn = [
            m
            for m in marks
            if (
                m.size["height"] > 0
                if mark.startswith("rect")
                else driver.execute_script("return arguments[0].getTotalLength()", m) > 0
            )
        ]
        assert drawn, f"{heading}: nothing drawn"
        colours = {m.get_attribute("fill" if mark.startswith("rect") else "stroke") for m in drawn}
        assert len(colours) == 2, (heading, colours)  # one per version compared
    assert not severe(driver)


def test_the_console_check_sees_an_error_when_there_is_one(tmp_path: Path, driver: WebDriver) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><title>x</title><script>undefinedFunction()</script>")
    driver.get(broken.as_uri())
    assert any("undefinedFunction" in message for message in severe(driver))


def test_the_docs_screenshot_is_a_page_rendered_like_this_one(page: Path, tmp_path: Path) -> None:
    png = tmp_path / "page.png"
    browser.screenshot(page, png)
    shown = Path(__file__).resolve().parents[2] / "docs" / "images" / "comparison-report.png"
    for image in (png, shown):
        header = image.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(header[16:20]), int.from_bytes(header[20:24])
        assert width == 1000 and height > 1500, (image, width, height)
