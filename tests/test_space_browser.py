"""The Space in a real browser: headless system Chromium (playwright, no downloaded browser) against the app
served in-process with a tiny model; every non-loopback request is aborted."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_space import CLIP, EXAMPLES, load_space_module, start_space, tiny_explainer  # noqa: E402

browser = load_space_module("browser")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def space_url():
    pytest.importorskip("playwright", reason="the browser test needs the playwright package (pip install playwright)")
    if browser.chromium_path() is None:
        reason = f"no Chromium at {browser.CHROMIUM} (make test installs it with apt-get install -y chromium)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    # long enough that the stream spans several page updates (16 tokens of the tiny model can arrive as one)
    demo, url = start_space(tiny_explainer(max_new_tokens=96))
    yield url
    demo.close()


def test_corrupt_upload_shows_an_error_then_a_good_clip_streams_an_explanation(space_url, tmp_path):
    fake = tmp_path / "broken.mp4"
    fake.write_text("this is a text file, not a video")
    with browser.chromium_page() as page:
        page.goto(space_url)
        page.locator("#video-input input[type=file]").set_input_files(str(fake))
        page.locator("#explain-button").click()
        assert "cannot read broken.mp4" in browser.error_shown(page, "cannot read")

        page.locator("#clear-button").click()
        page.locator("#video-input input[type=file]").wait_for(state="attached")
        example = EXAMPLES[0]
        shown = browser.explain_in_page(page, CLIP, example["subtitle"], example["reference"])
        assert shown[-1].strip()
        assert len(shown) >= 2 and all(later.startswith(earlier.rstrip()) for earlier, later in zip(shown, shown[1:]))
        assert page.locator("#frames img").count() == 4
        assert page.locator("#cues").get_by_text("emotional").count() >= 1
        assert page.locator("#score-chart img").count() == 1
        shot = tmp_path / "space.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
