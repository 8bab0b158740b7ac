"""EmoCue-Synth: reproducible media, valid records, exact cues and explicit emotion rules."""

import dataclasses
import itertools
import json
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from processing import cli
from processing.data.synth import (COMPOSITIONAL_HOLDOUT, CUE_FACTORS, EMOTIONS, SAMPLING_RATE, Factors,
                              canonical_cues, compositional_key, derive_emotion, factor_labels, generate_corpus,
                              make_record, order_dependent_shares, recover_cues, render_audio, render_frames,
                              sample_factors, sample_rng)
from processing.data.synth.cues import CUE_TABLE, EXPRESSION_NOUNS, SUBJECTS, VOICES
from processing.data.synth.factors import sample_nuisance
from processing.metrics.emocue360.canonical import ANY_EMOTION, BASIC_CUES, canonical_cue
from processing.metrics.emocue360.emotions import EMOTION_NOUNS

SIZE, FPS = 64, 8  # small and fast; the defaults (112 px, 12 fps) only cost more time


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    report = generate_corpus(out, 5, seed=3, size=SIZE, fps=FPS, num_workers=2,
                             split_fractions={"train": 2, "validation": 1, "test": 1, "compositional": 1})
    return out, report


def _rows(out: Path) -> list[dict]:
    """The records as data/*.parquet store them, each media value ({"bytes", "path"}) checked against the file under
    media/ and given back as its path."""
    import pyarrow.parquet as pq

    rows = [row for path in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    for row in rows:
        for column in ("video", "audio"):
            assert row[column]["bytes"] == (out / row[column]["path"]).read_bytes()
            row[column] = row[column]["path"]
    return rows


def _sample(split="train", index=0, seed=0) -> Factors:
    return sample_factors(sample_rng(seed, split, index), split)


# ---- media ----------------------------------------------------------------------------------------------
def test_same_seed_gives_the_same_bytes_whatever_the_worker_count(corpus, tmp_path):
    out, _ = corpus
    again = tmp_path / "again"
    generate_corpus(again, 5, seed=3, size=SIZE, fps=FPS, num_workers=1,
                    split_fractions={"train": 2, "validation": 1, "test": 1, "compositional": 1})
    first, second = _files(out), _files(again)
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []


def test_layout_is_parquet_per_split_media_and_card(corpus):
    out, report = corpus
    assert report.counts == {"train": 2, "validation": 1, "test": 1, "compositional": 1}
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "compositional.parquet", "messages", "preference", "test.parquet", "train.parquet", "validation.parquet"]
    for view in ("messages", "preference"):  # TRL's views, one file per split
        assert sorted(p.name for p in (out / "data" / view).iterdir()) == [
            "compositional.parquet", "test.parquet", "train.parquet", "validation.parquet"]
    assert (out / "README.md").is_file()
    rows = _rows(out)
    assert sorted(p.name for p in (out / "media").iterdir()) == sorted(
        Path(r[k]).name for r in rows for k in ("video", "audio"))
    assert not list(out.parent.glob(".*tmp*")), "no temporary folder is left behind"


def test_mp4_has_h264_video_and_aac_audio_of_the_clip_duration(corpus):
    out, _ = corpus
    row = _rows(out)[0]
    duration = Factors.from_json(row["factors"]).duration
    with av.open(str(out / row["video"])) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert (video.width, video.height) == (SIZE, SIZE) and audio.codec_context.sample_rate == SAMPLING_RATE
        assert float(video.duration * video.time_base) == pytest.approx(duration, abs=1.0 / FPS)
        assert float(audio.duration * audio.time_base) == pytest.approx(duration, abs=0.1)
        frames = list(container.decode(video=0))
    assert len(frames) == round(duration * FPS)


def test_wav_is_16khz_mono_of_the_clip_duration(corpus):
    out, _ = corpus
    row = _rows(out)[0]
    info = sf.info(str(out / row["audio"]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == round(Factors.from_json(row["factors"]).duration * 16000)


def test_records_follow_the_emocue_schema_and_load_with_datasets(corpus):
    from datasets import load_dataset

    from processing.data.emocue.schema import COLUMNS, validate_record

    out, _ = corpus
    for row in _rows(out):
        assert set(row) == set(COLUMNS)
        assert validate_record(row, root=out, check_media=True) == []
        assert row["video"] == f"media/{row['id']}.mp4" and row["audio"] == f"media/{row['id']}.wav"
        assert row["emotion"] in EMOTIONS and row["split"] in row["id"]
        assert isinstance(row["rejected"], str) and row["rejected"] != row["explanation"]
        assert set(json.loads(row["factors"])) >= set(CUE_FACTORS)
    assert load_dataset(str(out), split="compositional").num_rows == 1


def test_render_frames_works_at_any_size_and_is_deterministic():
    f = _sample()
    frames = render_frames(f, [0.0, f.duration / 2, f.duration - 0.1], size=48)
    assert frames.shape == (3, 48, 48, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, render_frames(f, [0.0, f.duration / 2, f.duration - 0.1], size=48))


def test_render_audio_length_range_and_loudness_above_the_noise_floor():
    f = dataclasses.replace(_sample(), event="none", tremor="steady", loudness="soft")
    soft = render_audio(f)
    loud = render_audio(dataclasses.replace(f, loudness="loud"))
    assert soft.dtype == np.float32 and len(soft) == round(f.duration * 16000) and np.abs(loud).max() <= 1.0
    ratio_db = 20 * np.log10(np.sqrt(np.mean(loud**2)) / np.sqrt(np.mean(soft**2)))
    assert 18 < ratio_db < 26  # 39 - 15 dB between voices, diluted by the shared noise floor in the pauses


def test_cli_prints_order_dependent_shares_and_speed(tmp_path, capsys):
    code = cli.main(["synth", str(tmp_path / "c"), "--num-samples", "2", "--size", "32", "--fps", "4",
                     "--splits", "train", "--num-workers", "1"])
    printed = capsys.readouterr().out
    assert code == 0 and "clips/second" in printed and "order-dependent cues" in printed


def test_cli_refuses_an_existing_folder_with_one_line(tmp_path, capsys):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    assert cli.main(["synth", str(tmp_path / "c"), "--num-samples", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xemogpt synth: error:") and "--overwrite" in err and "\n" not in err
    assert (tmp_path / "c" / "keep.txt").read_text() == "mine"


# ---- factors, splits, cues --------------------------------------------------------------------------------
def test_compositional_split_never_shares_a_held_out_combination_with_training():
    for split in ("train", "validation", "test"):
        assert not any(compositional_key(_sample(split, i)) in COMPOSITIONAL_HOLDOUT for i in range(300))
    assert all(compositional_key(_sample("compositional", i)) in COMPOSITIONAL_HOLDOUT for i in range(100))


def test_splits_draw_from_disjoint_sample_streams():
    assert _sample("train", 0) != _sample("validation", 0) != _sample("test", 0)
    assert _sample("train", 5) == _sample("train", 5)


def test_order_dependent_cues_have_non_zero_shares():
    shares = order_dependent_shares(_sample("train", i) for i in range(300))
    assert all(shares[k] > 0.05 for k in ("change_onset", "change_offset", "nodding", "pitch_contour"))
    assert shares["visual_any"] >= max(shares["change_onset"], shares["nodding"])


def test_nuisance_factors_change_pixels_but_no_cue_text_or_label():
    f = _sample("train", 7)
    g = dataclasses.replace(f, nuisance=sample_nuisance(np.random.default_rng(99)), render_seed=1, voice_seed=2)
    assert canonical_cues(g) == canonical_cues(f) and derive_emotion(g) == derive_emotion(f)
    assert factor_labels(g) == factor_labels(f)
    a, b = make_record(f, np.random.default_rng(1)), make_record(g, np.random.default_rng(1))
    assert {k: v for k, v in a.items() if k != "factors"} == {k: v for k, v in b.items() if k != "factors"}
    assert not np.array_equal(render_frames(f, [1.0], 32), render_frames(g, [1.0], 32))


def test_explanation_maps_back_to_the_canonical_cues_and_keeps_modalities_apart():
    for i in range(200):
        rng = sample_rng(0, "train", i)
        record = make_record(sample_factors(rng), rng)
        assert recover_cues(record["explanation"]) == record["cues"]
        video_part, rest = record["explanation"].split("In the audio,")
        assert video_part.startswith("In the video,") and "Overall," in rest


def test_cue_table_has_one_statement_per_cue_value():
    statements = [cue.statement for cue in CUE_TABLE.values()]
    assert len(statements) == len(set(statements))
    assert all(s.endswith(".") and s[0].isupper() for s in statements)


def test_every_paraphrase_reads_back_in_the_metric_as_its_cue():
    subjects = {s for group in SUBJECTS.values() for s in group}
    expected = {p.format(subj=subj, voice=voice, x=x): (cue.category, cue.statement.format(x=x))
                for cue in CUE_TABLE.values()
                for p, subj, voice, x in itertools.product(cue.paraphrases, subjects, VOICES,
                                                           EXPRESSION_NOUNS.values())}
    assert {clause: canonical_cue(clause) for clause in expected} == expected


def test_the_metric_basic_cues_are_the_generator_cues():
    emotion_valued = {factor for factor, value in BASIC_CUES if value == ANY_EMOTION}
    assert ({key for key in BASIC_CUES if key[1] != ANY_EMOTION}
            == {key for key in CUE_TABLE if key[0] not in emotion_valued})
    assert set(EMOTIONS) <= set(EMOTION_NOUNS)


def test_factor_labels_index_the_vocabularies():
    labels = factor_labels(_sample())
    assert set(labels) == set(CUE_FACTORS) | {"emotion"}
    assert all(0 <= labels[k] < len(v) for k, v in CUE_FACTORS.items())


def test_factors_round_trip_through_json():
    f = _sample("test", 3)
    assert Factors.from_json(f.to_json()) == f


# ---- emotion rules ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cues, emotion, conflicts", [
    (dict(mouth="smile", event="laughter", sentiment="positive"), "happy", ()),
    (dict(mouth="smile", pitch="low", tremor="trembling", sentiment="negative"), "sad", ("forced smile",)),
    (dict(mouth="smile", pitch="high", tremor="trembling"), "fearful", ("forced smile",)),
    (dict(mouth="tight-lipped", sentiment="sarcastic"), "contemptuous", ("sarcasm",)),
    (dict(mouth="smile", sentiment="sarcastic"), "happy", ()),
    (dict(mouth="open", brows="raised", eyes="wide"), "surprised", ()),
    (dict(brows="furrowed", mouth="tight-lipped"), "angry", ()),
    (dict(brows="furrowed", eyes="wide"), "fearful", ()),
    (dict(brows="furrowed"), "worried", ()),
    (dict(mouth="frown", tears=True, event="laughter"), "sad", ()),
    (dict(loudness="loud", pitch="low"), "angry", ()),
    (dict(sentiment="positive"), "happy", ()),
    (dict(sentiment="question"), "neutral", ()),
])
def test_emotion_rules(cues, emotion, conflicts):
    reading = derive_emotion(Factors(**cues))
    assert (reading.emotion, reading.conflicts) == (emotion, conflicts)
    if conflicts == ("forced smile",):
        assert "The smile looks forced." in canonical_cues(Factors(**cues))["emotional"]


def test_rule_cue_extractor_splits_explanations_into_as_many_cues_as_the_record_has():
    from processing.metrics.emocue360.extractors import get_extractor

    records = [make_record(sample_factors(sample_rng(1, "train", i)), sample_rng(1, "train", i)) for i in range(100)]
    for i, record in enumerate(records):
        record["id"] = str(i)
    extracted = get_extractor("rule").extract({r["id"]: r["explanation"] for r in records})
    for record in records:
        assert {k: len(v) for k, v in extracted[record["id"]].items()} == {k: len(v) for k, v in record["cues"].items()}
