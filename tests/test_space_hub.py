"""The Space as the Hub runs it: `make space` writes the folder, a clean environment gets only its
`requirements.txt` and the Gradio of its `sdk_version`, the model is the first id of its front matter's `models:`
served from a private HF cache, and `/explain` (gradio_client) gives the explanation `xemogpt explain` gives."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.clean_env import clean_python, free_port, hub_cache

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "examples" / "models" / "xemogpt-synth-tiny"
EXAMPLES = ROOT / "spaces_demo" / "examples"


def front_matter(readme: Path) -> dict:
    import yaml

    return yaml.safe_load(readme.read_text().split("---", 2)[1])


def make_space(out: Path) -> Path:
    """`make space SPACE_DIR=out`."""
    done = subprocess.run(["make", "-s", "space", f"SPACE_DIR={out}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def space_dir(tmp_path_factory):
    return make_space(tmp_path_factory.mktemp("space") / "space")


def space_requirements(space_dir: Path) -> list[str]:
    """What the Hub installs: requirements.txt and the Gradio of the front matter's sdk_version."""
    lines = [line.split("#")[0].strip() for line in (space_dir / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line] + [f"gradio=={front_matter(space_dir / 'README.md')['sdk_version']}"]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the Space exited ({process.returncode}): {process.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the Space did not answer at {url} within {timeout} s")


def start_space(space_dir: Path, python: Path, hf_home: Path, tmp: Path, **env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "XEMOGPT_MODEL")}
    environ.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
                   GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), OMP_NUM_THREADS="1",
                   HF_MODULES_CACHE=str(tmp / "hf_modules"), PYTHONUNBUFFERED="1", **env)
    process = subprocess.Popen([str(python), "app.py"], cwd=space_dir, env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, process)
    except BaseException:
        process.kill()
        raise
    return process, url


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_make_space_writes_the_folder_to_upload(space_dir):
    names = {p.name for p in space_dir.iterdir()}
    assert {"app.py", "serving.py", "README.md", "requirements.txt", "examples", "processing",
            "modeling_xemogpt"} <= names
    meta = front_matter(space_dir / "README.md")
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["models"][0] == "xemogpt/xemogpt-synth-tiny"
    assert not list(space_dir.rglob("__pycache__")) and not any(n.startswith(".") for n in names)
    assert oct(space_dir.stat().st_mode & 0o777) != oct(0o700)  # a normal folder, not mkdtemp's


def test_the_assembled_space_serves_its_front_matter_model_as_the_cli_explains(space_dir, tmp_path):
    clip_info = json.loads((EXAMPLES / "examples.json").read_text())[0]
    clip, subtitle = EXAMPLES / clip_info["video"], clip_info["subtitle"]
    model_id = front_matter(space_dir / "README.md")["models"][0]
    hf_home = hub_cache(tmp_path, {model_id: DEMO_MODEL})
    python = clean_python(space_requirements(space_dir))
    process, url = start_space(space_dir, python, hf_home, tmp_path)
    try:
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False, download_files=False)
        explanation, emotion, cues, frames, _, _, details = client.predict(
            handle_file(str(clip)), None, subtitle, api_name="/explain")
    finally:
        log = stop(process)
    assert f"`{model_id}` (with the model repository's own code)" in details, details + log[-2000:]
    cli = subprocess.run([sys.executable, "-m", "processing.cli", "explain", str(clip), "--subtitle", subtitle,
                          "--model", str(DEMO_MODEL), "--json"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert cli.returncode == 0, cli.stderr[-2000:]
    expected = json.loads(cli.stdout.strip().splitlines()[-1])
    assert explanation == expected["explanation"] and emotion == expected["emotion"]
    assert cues == expected["cues"] and len(frames) == 16
    assert re.search(r"\bOverall\b", explanation)


def test_a_space_whose_model_does_not_load_says_so_instead_of_serving_another(space_dir, tmp_path):
    python = clean_python(space_requirements(space_dir))
    process, url = start_space(space_dir, python, hub_cache(tmp_path, {}), tmp_path)  # nothing published
    try:
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            page = response.read().decode()
    finally:
        stop(process)
    assert "cannot explain clips right now: its model did not load" in page
    assert "xemogpt/xemogpt-synth-tiny" in page
