"""The Gradio Space (spaces_demo/): served in-process on 127.0.0.1 with a tiny random model and called through
gradio_client's `/explain` endpoint, plus the serving pieces (settings, time limit, cancellation, scores)."""

import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.file_modules import load_file_module

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

SPACE_DIR = Path(__file__).resolve().parent.parent / "spaces_demo"
EXAMPLES = json.loads((SPACE_DIR / "examples" / "examples.json").read_text())
CLIP = SPACE_DIR / "examples" / EXAMPLES[0]["video"]
TOKENS = 16


def load_space_module(name: str):
    """Import spaces_demo/<name>.py (the folder is a Space, not a package)."""
    if str(SPACE_DIR) not in sys.path:
        sys.path.insert(0, str(SPACE_DIR))
    return load_file_module(SPACE_DIR, name)


def bag_of_words_embedder(texts):
    """A cheap stand-in for the sentence encoder: hashed word counts, L2-normalised."""
    vectors = np.zeros((len(texts), 64), np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            vectors[row, hash(word.strip(".,!?")) % 64] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)


def tiny_explainer(max_new_tokens: int = TOKENS):
    from processing.inference.explain import Explainer
    from processing.testing import tiny_model_and_processor

    return Explainer(*tiny_model_and_processor(), generation_defaults={"max_new_tokens": max_new_tokens})


def start_space(explainer, **settings):
    """(demo, url): the Space built around `explainer`, launched without blocking on a free loopback port."""
    app = load_space_module("app")
    serving = load_space_module("serving")
    defaults = dict(max_clip_seconds=20.0, max_timeline_seconds=20.0, request_timeout=60.0, concurrency=2,
                    queue_size=32)
    demo = app.build_app(explainer, settings=serving.SpaceSettings(**{**defaults, **settings}),
                         scorer=serving.ReferenceScorer(bag_of_words_embedder))
    return demo, app.serve_locally(demo)


@pytest.fixture(scope="module")
def explainer():
    return tiny_explainer()


@pytest.fixture(scope="module")
def space(explainer):
    demo, url = start_space(explainer)
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def client(space):
    from gradio_client import Client

    return Client(space[1], verbose=False, download_files=False)


def explain(client, video, audio=None, subtitle="", **options):
    from gradio_client import handle_file

    return client.predict(handle_file(str(video)), handle_file(str(audio)) if audio else None, subtitle,
                          api_name="/explain", **options)


def test_explain_endpoint_streams_an_explanation_with_cues_frames_and_details(client):
    from gradio_client import handle_file

    job = client.submit(handle_file(str(CLIP)), None, EXAMPLES[0]["subtitle"], api_name="/explain")
    explanation, emotion, cues, frames, chart, scores, details = job.result(timeout=60)
    assert isinstance(explanation, str) and explanation
    assert len(job.outputs()) > 2  # frames first, then the text as it grows, then the parsed result
    assert set(cues) == {"visual", "auditory", "emotional"} and all(isinstance(v, list) for v in cues.values())
    assert isinstance(emotion, str)
    assert [item["caption"] for item in frames] == [f"{t:.2f} s" for t in _frame_times(CLIP)]
    assert chart is None and scores is None  # no reference given
    assert "random tiny model" in details and "generated the explanation" in details


def _frame_times(video):
    from processing.media import load_clip

    return load_clip(video, num_frames=4).timestamps


def test_api_takes_video_audio_subtitle_first_and_defaults_the_rest(client):
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/explain"]["parameters"]
    assert [p["parameter_name"] for p in parameters[:3]] == ["video", "audio", "subtitle"]
    assert all(p["parameter_has_default"] for p in parameters[3:])
    assert next(p for p in parameters if p["parameter_name"] == "max_new_tokens")["parameter_default"] == TOKENS


def test_separate_audio_file_is_accepted(client, tmp_path):
    from processing.data.synth.corpus import write_wav

    wav = tmp_path / "voice.wav"
    write_wav(wav, 0.1 * np.sin(np.linspace(0, 2000, 16000)).astype(np.float32))
    explanation, *_ = explain(client, CLIP, wav, "hello", do_sample=True, temperature=1.2)
    assert isinstance(explanation, str)


def test_reference_explanation_gives_emocue360_scores_and_chart(client):
    outputs = explain(client, CLIP, subtitle=EXAMPLES[0]["subtitle"], reference=EXAMPLES[0]["reference"])
    chart, scores = outputs[4], outputs[5]
    assert Path(chart["path"]).suffix in (".webp", ".png")  # download_files=False: file data, not a local copy
    assert {"visual", "auditory"} <= set(scores)
    for category in scores.values():
        assert 0.0 <= category["f1"] <= 1.0 and isinstance(category["missed"], list)


def test_corrupt_upload_is_a_clear_error_and_the_app_keeps_serving(client, tmp_path):
    from gradio_client.exceptions import AppError

    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(AppError, match=r"cannot read holiday\.mp4"):
        explain(client, fake)
    explanation, *_ = explain(client, CLIP)
    assert isinstance(explanation, str)


def test_missing_video_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Upload a video clip"):
        client.predict(None, None, "", api_name="/explain")


def test_clip_longer_than_the_cap_is_refused_after_opening(client, tmp_path):
    from gradio_client.exceptions import AppError
    from processing.data.synth.corpus import encode_mp4

    long_clip = tmp_path / "long.mp4"
    encode_mp4(long_clip, np.zeros((25, 32, 32, 3), np.uint8), None, fps=1)  # 25 s, the cap is 20 s
    with pytest.raises(AppError, match=r"25\.0 s long; this Space explains clips up to 20 s"):
        explain(client, long_clip)


def test_ten_concurrent_requests_are_queued_and_all_answered(client):
    from gradio_client import handle_file

    jobs = [client.submit(handle_file(str(CLIP)), None, f"request {i}", api_name="/explain") for i in range(10)]
    results = [job.result(timeout=80) for job in jobs]
    assert len(results) == 10
    assert all(isinstance(r[0], str) and len(r[3]) == 4 for r in results)


def test_upload_larger_than_the_cap_is_refused(explainer):
    import httpx
    from gradio_client import Client

    demo, url = start_space(explainer, max_file_size="10kb")
    try:
        with pytest.raises(ValueError, match="exceeds the maximum file size of 10240 bytes"):
            explain(Client(url, verbose=False, download_files=False), CLIP)  # ~60 KB
        with CLIP.open("rb") as handle:  # the server refuses it too, whatever the client checks
            response = httpx.post(f"{url}gradio_api/upload", files={"files": handle}, timeout=30)
        assert response.status_code == 413
    finally:
        demo.close()


def test_four_bit_without_a_reloadable_model_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="4-bit loading is not available here"):
        explain(client, CLIP, load_in_4bit=True)


# ---- serving pieces, without a server -------------------------------------------------------------------------


def test_four_bit_copy_is_loaded_once_on_first_use(monkeypatch, explainer):
    serving = load_space_module("serving")
    loads = []

    def fake_load(model=None, **options):
        loads.append((model, options))
        return explainer

    monkeypatch.setattr(serving.Explainer, "load", staticmethod(fake_load))
    monkeypatch.setattr(serving, "bitsandbytes_available", lambda: True)
    monkeypatch.setattr(explainer.model, "name_or_path", "some/model")
    served = serving.ServedModel("some/model")
    assert served.can_quantize and served.get() is explainer
    assert served.get(load_in_4bit=True) is served.get(load_in_4bit=True)
    assert loads == [("some/model", {"trust_remote_code": True}),
                     ("some/model", {"load_in_4bit": True, "trust_remote_code": True})]


def test_the_stream_stops_at_the_request_deadline(explainer):
    inputs, clip, _ = explainer.prepare(CLIP, None, "")
    stream = explainer.stream_prepared(inputs, clip, deadline=time.monotonic(), max_new_tokens=200)
    pieces = list(stream)
    assert stream.timed_out
    assert len(pieces) <= 2
    assert stream.result is not None and stream.result.timestamps is not None


def test_an_abandoned_stream_stops_generating(explainer):
    inputs, _, _ = explainer.prepare(CLIP, None, "")
    stream = iter(explainer.stream_prepared(inputs, deadline=time.monotonic() + 60, max_new_tokens=4000,
                                            no_repeat_ngram_size=0, min_new_tokens=4000))
    next(stream)
    stream.close()  # what gradio does when the page goes away
    assert not [t for t in threading.enumerate() if t.name == "xemogpt-generate"]


def test_settings_come_from_the_environment():
    serving = load_space_module("serving")
    from processing.errors import XEmoGPTError

    settings = serving.SpaceSettings.from_env({"XEMOGPT_MAX_CLIP_SECONDS": "5", "XEMOGPT_CONCURRENCY": "3"})
    assert settings.max_clip_seconds == 5.0 and settings.concurrency == 3 and settings.queue_size == 32
    with pytest.raises(XEmoGPTError, match="XEMOGPT_QUEUE_SIZE='many'"):
        serving.SpaceSettings.from_env({"XEMOGPT_QUEUE_SIZE": "many"})


def test_gpu_decorator_is_a_no_op_off_spaces(monkeypatch):
    serving = load_space_module("serving")
    monkeypatch.delenv("SPACE_ID", raising=False)

    def function():
        return 1

    assert serving.gpu_decorator(60)(function) is function


def test_gpu_decorator_is_spaces_gpu_on_a_space(monkeypatch):
    import importlib.machinery
    import types

    serving = load_space_module("serving")
    fake = types.ModuleType("spaces")
    fake.__spec__ = importlib.machinery.ModuleSpec("spaces", None)
    fake.GPU = lambda duration: lambda function: ("on gpu", duration, function)
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACE_ID", "someone/xemogpt")

    def function():
        return 1

    assert serving.gpu_decorator(90)(function) == ("on gpu", 90, function)


def test_space_readme_declares_the_gradio_sdk_and_app_file():
    header = (SPACE_DIR / "README.md").read_text().split("---")[1]
    import yaml

    meta = yaml.safe_load(header)
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert {"sdk_version", "models", "datasets", "tags", "license"} <= set(meta)


def test_example_clips_stay_small():
    assert sum(p.stat().st_size for p in (SPACE_DIR / "examples").iterdir()) <= 300_000


def test_the_model_is_the_env_the_bundled_one_in_a_checkout_else_the_front_matters_first_id(monkeypatch, tmp_path):
    serving = load_space_module("serving")
    monkeypatch.delenv("XEMOGPT_MODEL", raising=False)
    assert serving.default_model_source() == str(serving.DEFAULT_MODEL)  # a checkout: the bundled demo model
    monkeypatch.setattr(serving, "DEFAULT_MODEL", tmp_path / "not-trained")  # an assembled Space
    assert serving.default_model_source() == serving.front_matter_models()[0] == "xemogpt/xemogpt-synth-tiny"
    monkeypatch.setenv("XEMOGPT_MODEL", "org/other")
    assert serving.default_model_source() == "org/other"


@pytest.mark.usefixtures("hub_offline")
def test_a_model_that_does_not_load_gives_a_page_that_says_so_not_another_model():
    app = load_space_module("app")
    demo = app.build_app("xemogpt/not-published-yet")
    assert demo.xemogpt_model is None
    banner = next(block.value for block in demo.blocks.values() if getattr(block, "elem_id", None) == "model-banner")
    assert "cannot explain clips right now: its model did not load" in banner and "not-published-yet" in banner


def test_the_speech_model_is_the_env_the_local_whisper_else_the_front_matters_whisper_id(monkeypatch, tmp_path):
    import processing.inference.asr as asr

    serving = load_space_module("serving")
    monkeypatch.setattr(asr, "LOCAL_WHISPER", tmp_path / "not-converted")  # an assembled Space: no local folder
    monkeypatch.delenv("XEMOGPT_ASR_MODEL", raising=False)
    assert serving.default_asr_source() == "openai/whisper-tiny.en"  # the front matter's Whisper id
    monkeypatch.setenv("XEMOGPT_ASR_MODEL", "none")
    assert serving.default_asr_source() is None
    monkeypatch.setenv("XEMOGPT_ASR_MODEL", "org/whisper-small")
    assert serving.default_asr_source() == "org/whisper-small"


def test_a_speech_model_that_cannot_load_leaves_the_clip_without_subtitle_in_the_space_not_in_the_cli(tmp_path):
    """The Space explains from the media and says why; the CLI's user named the model, so it is their error."""
    from processing.inference.asr import Transcriber
    from processing.errors import XEmoGPTError
    from tests.media_fixtures import write_test_video

    clip = write_test_video(tmp_path / "c.mp4", seconds=1.0, fps=8, size=(32, 32))
    serving = load_space_module("serving")
    served = serving.ServedModel(tiny_explainer())
    served.explainer.transcriber = Transcriber(str(tmp_path / "no-such-whisper"))
    _, prepared, _ = served.explainer.prepare(clip)
    assert prepared.subtitle == "" and prepared.subtitle_source is None
    assert any("could not be transcribed" in note and "no-such-whisper" in note for note in prepared.notes)
    cli = tiny_explainer()
    cli.transcriber = Transcriber(str(tmp_path / "no-such-whisper"))
    with pytest.raises(XEmoGPTError, match="no-such-whisper"):
        cli.prepare(clip)
