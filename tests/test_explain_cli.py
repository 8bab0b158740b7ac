"""`xemogpt explain`: JSON output, streaming, and every kind of bad input gives one clear line, never a traceback."""

import json
import time

import numpy as np
import pytest
import soundfile as sf

from processing.cli import main
from tests.media_fixtures import write_test_audio, write_test_video, write_truncated


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    files = {
        "good": write_test_video(d / "good.mp4", seconds=2.0),
        "silent": write_test_video(d / "silent.mp4", seconds=2.0, audio=False),
        "short": write_test_video(d / "short.mp4", seconds=0.2, fps=10),
        "long": write_test_video(d / "long.mkv", seconds=600, fps=1, size=(32, 32), gop=30, bframes=0,
                                 audio_codec="pcm_s16le", audio_rate=8000),
        "audio_only": write_test_audio(d / "voice.m4a", seconds=1.5),
    }
    surround = np.random.default_rng(0).standard_normal((48000 * 2, 8)).astype(np.float32) * 0.1
    sf.write(d / "surround.wav", surround, 48000)
    files["surround"] = d / "surround.wav"
    (d / "empty.mp4").write_bytes(b"")
    files["empty"] = d / "empty.mp4"
    (d / "notes.mp4").write_text("this is not a video\n")
    files["text"] = d / "notes.mp4"
    files["truncated"] = write_truncated(files["good"], d / "truncated.mp4", 0.5)
    return files


def explain(capsys, *args):
    code = main(["explain", *map(str, args), "--max-new-tokens", "4"])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert lines[0].startswith("xemogpt explain: error:")
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0]


def test_json_output_has_explanation_cues_emotion_and_timings(media, capsys):
    from processing.metrics.emocue360 import extract_emotion, parse_explanation

    code = main(["explain", str(media["good"]), "--subtitle", "hello", "--json"])  # the whole explanation
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert data["explanation"].startswith("In the video") and data["explanation"].rstrip().endswith(".")
    assert data["cues"] == parse_explanation(data["explanation"]) and any(data["cues"].values())
    assert data["emotion"] == extract_emotion(data["explanation"]) is not None
    assert set(data["timings"]) == {"decode", "encode", "generate"} and all(t > 0 for t in data["timings"].values())
    assert len(data["timestamps"]) == 16 and data["timestamps"] == sorted(data["timestamps"])


def test_stream_prints_the_same_text_as_a_plain_run(media, capsys):
    _, plain, _ = explain(capsys, media["good"], "--json")
    _, streamed, _ = explain(capsys, media["good"], "--stream")
    assert streamed.startswith(json.loads(plain)["explanation"])


def test_missing_path(capsys, tmp_path):
    assert_one_line_error(*explain(capsys, tmp_path / "nope.mp4")[::2], "nope.mp4")


def test_zero_byte_file(media, capsys):
    assert_one_line_error(*explain(capsys, media["empty"])[::2], "empty.mp4")


def test_text_file_named_mp4(media, capsys):
    assert_one_line_error(*explain(capsys, media["text"])[::2], "notes.mp4")


def test_truncated_mp4(media, capsys):
    assert_one_line_error(*explain(capsys, media["truncated"])[::2], "truncated.mp4")


def test_video_without_audio_track_runs_on_video_and_subtitle_and_says_so(media, capsys):
    code, out, err = explain(capsys, media["silent"], "--subtitle", "fine")
    assert code == 0 and "emotion:" in out
    assert "no audio track" in err


def test_audio_only_file_given_as_the_video_is_explained_from_its_audio_and_says_so(media, capsys):
    code, out, err = explain(capsys, media["audio_only"], "--json")
    assert code == 0
    notes = " ".join(json.loads(out)["notes"])
    assert "no video stream" in notes


def test_eight_channel_48khz_audio_is_mixed_and_resampled(media, capsys):
    from processing.inference.explain import Explainer

    code, out, _ = explain(capsys, media["silent"], "--audio", media["surround"], "--subtitle", "hi", "--json")
    assert code == 0 and json.loads(out)["explanation"]
    explainer = Explainer.load()
    inputs, clip, _ = explainer.prepare(media["silent"], audio=media["surround"], subtitle="hi")
    rate = explainer.processor.sampling_rate
    assert clip.audio.ndim == 1 and len(clip.audio) == 2 * rate  # 2 s of 8 channels at 48 kHz -> mono at 16 kHz
    assert (inputs["input_ids"] == explainer.processor.audio_token_id).sum() > 0  # and it reaches the prompt


def test_a_0_2_second_clip_is_explained(media, capsys):
    code, out, err = explain(capsys, media["short"], "--json")
    assert code == 0
    assert len(json.loads(out)["timestamps"]) == 16


def test_a_ten_minute_clip_stays_bounded_in_time(media, capsys):
    start = time.perf_counter()
    code, out, _ = explain(capsys, media["long"], "--json")
    assert code == 0
    assert time.perf_counter() - start < 60
    stamps = json.loads(out)["timestamps"]
    assert stamps[0] < 40 and stamps[-1] > 560  # frames span the whole clip


def test_a_missing_model_folder_is_a_clear_error(media, capsys, tmp_path):
    assert_one_line_error(*explain(capsys, media["good"], "--model", tmp_path / "no-model")[::2], "no-model")


def test_beam_search_runs_and_gives_what_generate_gives_with_those_beams(media, capsys):
    """transformers refuses a streamer with beam search: with --num-beams > 1 the explanation comes in one piece."""
    import torch

    from processing.inference.explain import Explainer

    code, out, err = explain(capsys, media["good"], "--subtitle", "hello", "--num-beams", "3", "--json")
    assert code == 0, err
    explainer = Explainer.load()
    inputs, _, _ = explainer.prepare(media["good"], subtitle="hello")
    with torch.no_grad():
        ids = explainer.model.generate(**inputs, **explainer.generation_kwargs({"num_beams": 3, "max_new_tokens": 4}))
    expected = explainer.processor.decode(ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    assert json.loads(out)["explanation"] == expected


@pytest.mark.parametrize("flag,value", [("--max-new-tokens", "0"), ("--num-beams", "0"), ("--temperature", "-1"),
                                        ("--max-new-tokens", "many")])
def test_bad_generation_flags_are_refused_before_any_work(media, capsys, flag, value):
    with pytest.raises(SystemExit) as info:
        main(["explain", str(media["good"]), flag, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert f"argument {flag}:" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("damage", ["empty", "truncated", "pickle-only"])
def test_a_broken_model_folder_is_one_line(media, capsys, tmp_path, damage):
    import shutil

    from processing.inference.explain import DEFAULT_MODEL

    folder = tmp_path / "model"
    if damage == "empty":
        folder.mkdir()
    else:
        shutil.copytree(DEFAULT_MODEL, folder)
        weights = folder / "model.safetensors"
        if damage == "truncated":
            weights.write_bytes(weights.read_bytes()[:1000])
        else:
            weights.rename(folder / "pytorch_model.bin")
    code, _, err = explain(capsys, media["good"], "--model", folder)
    assert_one_line_error(code, err, "cannot load model", str(folder))


def test_without_any_trained_model_explain_refuses_unless_allowed(media, capsys, monkeypatch, tmp_path):
    import processing.inference.explain as explain_module

    monkeypatch.setattr(explain_module, "DEFAULT_MODEL", tmp_path / "not-trained-yet")
    code, _, err = explain(capsys, media["good"])
    assert_one_line_error(code, err, "no trained model", "--allow-untrained")
    code, out, err = explain(capsys, media["good"], "--allow-untrained")
    assert code == 0 and "RANDOM tiny model" in err
