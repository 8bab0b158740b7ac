"""The Space in a real browser: headless system Chromium (playwright, no downloaded browser) against the Space
folder `make space` assembles, serving the model of its front matter from a private HF cache (the bundled demo
model under its Hub id); every non-loopback request is aborted."""

import json
import sys
from pathlib import Path

import pytest

from tests.clean_env import hub_cache
from tests.file_modules import load_file_module
from tests.test_space_hub import DEMO_MODEL, front_matter, make_space, start_space, stop

ROOT = Path(__file__).resolve().parents[1]
browser = load_file_module(ROOT / "spaces_demo", "browser")
EXAMPLES = json.loads((ROOT / "spaces_demo" / "examples" / "examples.json").read_text())
CLIP = ROOT / "spaces_demo" / "examples" / EXAMPLES[0]["video"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def space_url(tmp_path_factory):
    pytest.importorskip("playwright", reason="the browser test needs the playwright package (pip install playwright)")
    if browser.chromium_path() is None:
        reason = f"no Chromium at {browser.CHROMIUM} (make test installs it with apt-get install -y chromium)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("browser")
    space = make_space(tmp / "space")
    hf_home = hub_cache(tmp, {front_matter(space / "README.md")["models"][0]: DEMO_MODEL})
    process, url = start_space(space, Path(sys.executable), hf_home, tmp)  # this venv has the Space's packages
    yield url
    stop(process)


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
        assert page.locator("#frames img").count() == 16
        assert "xemogpt/xemogpt-synth-tiny" in page.locator("#model-banner").inner_text()
        assert page.locator("#cues").get_by_text("emotional").count() >= 1
        assert page.locator("#score-chart img").count() == 1
        shot = tmp_path / "space.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
