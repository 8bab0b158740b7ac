"""Write the folder that is uploaded as the XEmoGPT Space.

    make space SPACE_DIR=DIR          (= python spaces_demo/assemble.py DIR)
    hf upload ORG/NAME DIR --repo-type space

DIR holds the app (`app.py`, `serving.py`), its front matter (`README.md`: Gradio `sdk_version`, the `models:` it
serves), `requirements.txt` (PyPI packages only; Gradio comes from `sdk_version`), the example clips, and the two
packages of this repository the app's own code uses (`processing/`: clip decoding, streaming, cue parsing,
EmoCue-360; `modeling_xemogpt/`: what `processing/` imports). The model is not among them: the Space loads the
first id of the front matter's `models:` (or `$XEMOGPT_MODEL`) from the Hub through the Auto classes with
`trust_remote_code`, i.e. with the code of the model repo itself. Written atomically (a staging folder renamed at
the end); an existing DIR is replaced only if it is an assembled Space (it holds `app.py` and `README.md`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_FILES = ("app.py", "serving.py", "README.md", "requirements.txt")
PACKAGES = ("processing", "modeling_xemogpt")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def assemble(out_dir: str | os.PathLike) -> Path:
    """Write the Space folder at `out_dir` (see the module docstring). Returns its path."""
    sys.path.insert(0, str(ROOT))
    from modeling_xemogpt.hub import staging_dir

    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and any(out_dir.iterdir()) and not all((out_dir / f).is_file() for f in ("app.py", "README.md")):
        raise SystemExit(f"error: {out_dir} exists and is not an assembled Space; choose a new or empty folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out_dir, ".space-tmp")
    try:
        for name in APP_FILES:
            shutil.copy2(HERE / name, tmp / name)
        shutil.copytree(HERE / "examples", tmp / "examples", ignore=IGNORED)
        for package in PACKAGES:
            shutil.copytree(ROOT / package, tmp / package, ignore=IGNORED)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="the Space folder to write (e.g. build/space)")
    args = parser.parse_args(argv)
    out = assemble(args.out_dir)
    print(f"wrote {out}: upload it with `hf upload ORG/NAME {out} --repo-type space`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
