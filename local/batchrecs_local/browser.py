"""Headless Chromium, Debian's (``apt install chromium chromium-driver``, as .ci/run does), driven through its
chromedriver by Selenium: the browser test of the comparison page (tests/browser) and the docs' screenshot of it.

The browser talks to its driver on loopback and resolves no other host: the page it opens needs none, and a chart
that asked for one would fail to load rather than reach out.

    python -m batchrecs_local.browser build/demo/output/run-…/<dropId>/report.html docs/images/comparison-report.png
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = "chromium"
DRIVER = "chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
)


def unavailable() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    missing = [name for name in (CHROMIUM, DRIVER) if shutil.which(name) is None]
    return f"{' and '.join(missing)} not found: apt install chromium chromium-driver" if missing else None


@contextlib.contextmanager
def chromium(width: int = 1000, height: int = 900) -> Iterator[WebDriver]:
    """A headless Chromium whose console messages are kept (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    problem = unavailable()
    if problem is not None:
        raise RuntimeError(problem)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = Options()
    options.binary_location = shutil.which(CHROMIUM) or CHROMIUM
    for flag in (*FLAGS, f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(page: Path, png: Path, width: int = 1000) -> None:
    """The whole page as a PNG, ``width`` pixels wide."""
    with chromium(width) as driver:
        driver.get(page.resolve().as_uri())
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(width, height + 400)  # the window's own frame takes some of it
        png.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(png))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m batchrecs_local.browser PAGE.html OUT.png")
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
    print(sys.argv[2])
