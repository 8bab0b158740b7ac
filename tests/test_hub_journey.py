"""HUB_USER_JOURNEY.md part A, every step, in an environment that has never seen this repository: only torch,
transformers and the model card's `pip install` line; the model by Hub id from a private HF cache; the clip as a
user has it (an .mp4). Each step's result is compared with `xemogpt explain` on the same clip."""

import json
import re
import shutil

import pytest

from processing.cli import main
from processing.hub.model_card import PIP_INSTALL
from tests.clean_env import hub_cache, result_json, run_clean

pytestmark = pytest.mark.slow

REPO_ID = "xemogpt/xemogpt-synth-tiny"


@pytest.fixture(scope="module")
def bundled():
    from processing.inference.explain import DEFAULT_MODEL

    return DEFAULT_MODEL


@pytest.fixture(scope="module")
def user(tmp_path_factory, bundled):
    """A user's folder (clip.mp4 + subtitle) and an HF cache holding the exported bundled model as REPO_ID."""
    root = tmp_path_factory.mktemp("journey")
    assert main(["export", str(bundled), str(root / "export"), "--repo-id", REPO_ID]) == 0
    home = hub_cache(root, {REPO_ID: root / "export"})
    work = root / "work"
    work.mkdir()
    shutil.copyfile(bundled.parents[1] / "clips" / "demo.mp4", work / "clip.mp4")
    subtitle = (bundled.parents[1] / "clips" / "demo.txt").read_text().strip()
    return {"home": home, "work": work, "subtitle": subtitle, "export": root / "export"}


@pytest.fixture(scope="module")
def cli_explanation(user, bundled):
    """What `xemogpt explain clip.mp4 --subtitle S --model BUNDLED --json` prints."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "processing.cli", "explain", str(user["work"] / "clip.mp4"),
                           "--subtitle", user["subtitle"], "--model", str(bundled), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=bundled.parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["explanation"]


JOURNEY = """
import json
import av, numpy as np, torch
from transformers import (AutoModel, AutoModelForImageTextToText, AutoModelForMultimodalLM, AutoProcessor,
                          pipeline)

ID, SUBTITLE = {repo_id!r}, {subtitle!r}
result = {{}}
model = AutoModel.from_pretrained(ID, trust_remote_code=True)
proc = AutoProcessor.from_pretrained(ID, trust_remote_code=True)
result["classes"] = [type(m).__name__ for m in (
    model, AutoModelForImageTextToText.from_pretrained(ID, trust_remote_code=True),
    AutoModelForMultimodalLM.from_pretrained(ID, trust_remote_code=True))]
result["module"] = type(model).__module__

conv = [{{"role": "user", "content": [{{"type": "video", "path": "clip.mp4"}}, {{"type": "text", "text": SUBTITLE}}]}}]
inputs = proc.apply_chat_template(conv, add_generation_prompt=True, tokenize=True, return_dict=True,
                                  return_tensors="pt")
out = model.generate(**inputs)
result["chat"] = proc.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()

# processor(text=, videos=[path], audio=[waveform]): the same inputs as the chat route
prompt = proc.apply_chat_template([{{"role": "user", "content": [
    {{"type": "video"}}, {{"type": "audio"}}, {{"type": "text", "text": SUBTITLE}}]}}], add_generation_prompt=True)
waveform = proc.load_audio("clip.mp4")
direct = proc(text=prompt, videos=["clip.mp4"], audio=[waveform], return_tensors="pt")
result["direct_equals_chat"] = sorted(direct) == sorted(inputs) and all(torch.equal(direct[k], inputs[k]) for k in inputs)

# every decoded frame of the clip (any length) is sampled to num_frames
with av.open("clip.mp4") as container:
    frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
arrays = proc(text=prompt, videos=[frames], audio=[waveform], return_tensors="pt")
result["all_frames"] = [int(len(frames)), list(arrays["pixel_values_videos"].shape)]

pipe = pipeline("video-text-to-text", model=ID, trust_remote_code=True)
result["pipeline"] = pipe("clip.mp4", subtitle=SUBTITLE)[0]["generated_text"].strip()

model.save_pretrained("mine"); proc.save_pretrained("mine")
again = AutoModel.from_pretrained("mine", trust_remote_code=True)
proc2 = AutoProcessor.from_pretrained("mine", trust_remote_code=True)
inputs2 = proc2.apply_chat_template(conv, add_generation_prompt=True, tokenize=True, return_dict=True,
                                    return_tensors="pt")
out2 = again.generate(**inputs2)
result["resaved"] = proc2.decode(out2[0, inputs2["input_ids"].shape[1]:], skip_special_tokens=True).strip()
result["resaved_auto_map"] = sorted(json.load(open("mine/config.json"))["auto_map"])
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def journey(user):
    script = JOURNEY.format(repo_id=REPO_ID, subtitle=user["subtitle"])
    return result_json(run_clean(script, user["work"], user["home"]))


def test_auto_classes_load_the_generation_model_by_hub_id_as_remote_code(journey):
    assert journey["classes"] == ["XEmoGPTForConditionalGeneration"] * 3
    assert journey["module"].startswith("transformers_modules")


def test_chat_template_with_a_video_item_explains_like_the_cli(journey, cli_explanation):
    assert journey["chat"] == cli_explanation
    assert "Overall" in cli_explanation  # the bundled model writes a real explanation, not noise


def test_processor_call_with_video_path_and_waveform_equals_the_chat_route(journey):
    assert journey["direct_equals_chat"] is True


def test_videos_of_any_length_are_sampled_to_the_models_frame_count(journey):
    total, shape = journey["all_frames"]
    assert total > 16 and shape[:2] == [1, 16]


def test_pipeline_explains_a_clip_path(journey, cli_explanation):
    assert journey["pipeline"] == cli_explanation


def test_resaved_folder_reloads_with_remote_code_and_explains_the_same(journey, cli_explanation):
    assert journey["resaved"] == cli_explanation
    assert {"AutoConfig", "AutoModel", "AutoModelForImageTextToText", "AutoModelForMultimodalLM",
            "AutoProcessor"} <= set(journey["resaved_auto_map"])


def test_the_cards_pip_line_and_snippet_run_verbatim(user, cli_explanation):
    """The exported card's first Python block, run as written (the clean environment holds exactly the card's
    `pip install` line), prints the CLI's explanation for the card's subtitle."""
    card = (user["export"] / "README.md").read_text()
    snippet = re.search(r"## Usage with transformers.*?```python\n(.*?)```", card, re.S).group(1)
    assert f'"{REPO_ID}"' in snippet and PIP_INSTALL in card
    done = run_clean(snippet, user["work"], user["home"])
    assert done.returncode == 0, done.stderr[-3000:]
    subtitle = re.search(r'"type": "text", "text": "(.*?)"', snippet).group(1)
    import subprocess
    import sys

    expected = subprocess.run([sys.executable, "-m", "processing.cli", "explain", str(user["work"] / "clip.mp4"),
                               "--subtitle", subtitle, "--json"], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == json.loads(expected.stdout)["explanation"]
