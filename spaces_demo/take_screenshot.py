"""Serve the Space with its default model ($XEMOGPT_MODEL, else the bundled demo model, else the random
fallback), explain one example clip with its reference in headless Chromium and save the page as a PNG.

    python spaces_demo/take_screenshot.py [--out spaces_demo/screenshot.png] [--example 0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import app  # noqa: E402
import browser  # noqa: E402


def take_screenshot(out=HERE / "screenshot.png", example: int = 0) -> Path:
    row = json.loads((app.EXAMPLES_DIR / "examples.json").read_text())[example]
    demo = app.build_app()
    try:
        url = app.serve_locally(demo)
        with browser.chromium_page(width=1440, height=1000) as page:
            page.goto(url)
            browser.explain_in_page(page, app.EXAMPLES_DIR / row["video"], row["subtitle"], row["reference"],
                                    timeout_ms=300_000)
            page.locator(".toast-body").first.wait_for(state="detached", timeout=15_000)  # let warnings fade
            out = Path(out)
            shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
            shot.quantize(colors=256).save(out.with_suffix(".tmp.png"), optimize=True)  # ~3x smaller in git
            os.replace(out.with_suffix(".tmp.png"), out)
    finally:
        demo.close()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "screenshot.png"))
    parser.add_argument("--example", type=int, default=0)
    args = parser.parse_args()
    print(take_screenshot(args.out, args.example))
