"""Drive the Space in a headless Chromium (the system one; never `playwright install`): the browser test and
the README screenshot share these steps. Every request that does not go to the loopback interface is aborted.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed (`apt-get install -y chromium`)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium")


def _loopback_only(route) -> None:
    url = urlparse(route.request.url)
    if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOOPBACK:
        route.abort()
    else:
        route.continue_()


@contextmanager
def chromium_page(width: int = 1440, height: int = 1100):
    """A fresh page in headless Chromium that can only reach the loopback interface."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route("**/*", _loopback_only)
            yield page
        finally:
            browser.close()


# Samples the explanation box every 10 ms, so a caller can check that the text arrived in pieces.
_WATCH_EXPLANATION = """() => {
  window.__explanations = [];
  window.__watch = setInterval(() => {
    const box = document.querySelector('#explanation textarea');
    const seen = window.__explanations;
    if (box && box.value && box.value !== seen[seen.length - 1]) seen.push(box.value);
  }, 10);
}"""


def explain_in_page(page, video, subtitle: str = "", reference: str = "", *, timeout_ms: float = 60_000) -> list[str]:
    """Upload `video` into the open Space page, fill the texts, press Explain and wait for the finished answer
    (the details list reports the generation time). Returns the successive texts the explanation box showed."""
    page.locator("#video-input input[type=file]").set_input_files(str(video))
    page.locator("#video-input video").first.wait_for(timeout=timeout_ms)  # the upload finished
    page.locator("#subtitle-input textarea").fill(subtitle)
    page.locator("#reference-input textarea").fill(reference)
    page.evaluate(_WATCH_EXPLANATION)
    page.locator("#explain-button").click()
    page.locator("#details").get_by_text("generated the explanation").wait_for(timeout=timeout_ms)
    seen = page.evaluate("() => { clearInterval(window.__watch); return window.__explanations; }")
    final = page.locator("#explanation textarea").input_value()
    return seen if seen and seen[-1] == final else [*seen, final]


def error_shown(page, text: str, *, timeout_ms: float = 30_000) -> str:
    """Wait until an error toast containing `text` is visible; returns the toast's text."""
    toast = page.locator(".toast-body").filter(has_text=text).first
    toast.wait_for(state="visible", timeout=timeout_ms)
    return toast.inner_text()
