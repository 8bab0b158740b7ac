"""EmoCue data layer: schema, atomic writer, loaders, converters, validation (`xemogpt validate`), DPO pairs,
dataset cards. Media are tiny real MP4s (32×32 H.264 + AAC) made here with PyAV."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import av
import datasets
import numpy as np
import pytest

from processing.commands import validate as validate_command
from processing.data.emocue import (
    FEATURES,
    REJECTION_KINDS,
    EmoCueWriter,
    build_rejected,
    convert_published,
    load_emocue,
    make_dataset_card,
    make_preference_pairs,
    read_cue_json,
    read_emer_csv,
    read_mercaption_csv,
    validate_dataset,
    validate_record,
    write_emocue,
)
from processing.errors import DatasetError
from processing.data.emocue.dpo import CONTRADICTIONS
from processing.data.emocue.schema import STORED_FEATURES
from processing.metrics.emocue360.emotions import EMOTION_NOUNS

EXPLANATION = (
    "In the video, the person smiles and the eyebrows are raised. In the audio, the voice is loud and the "
    "pitch rises. Overall, the person seems happy."
)
CUES = {
    "visual": ["The person smiles", "The eyebrows are raised"],
    "auditory": ["The voice is loud", "The pitch rises"],
    "emotional": ["The person is happy"],
}


def make_mp4(path: Path, frames: int = 3, size: int = 32, audio: bool = True) -> Path:
    """A tiny real clip: `frames` frames of size×size H.264 at 10 fps, plus 0.25 s of AAC tone."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("h264", rate=10)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=16000) if audio else None
        for i in range(frames):
            image = np.full((size, size, 3), 40 * i, np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode())
        if sound is not None:
            tone = (0.3 * np.sin(np.arange(4000) / 8)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate = 16000
            container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return path


def record(i: int | str, **changes) -> dict:
    row = {
        "id": f"clip_{i}",
        "video": f"media/clip_{i}.mp4",
        "subtitle": "I can't believe it worked!",
        "explanation": EXPLANATION,
        "cues": CUES,
        "emotion": "happy",
    }
    row.update(changes)
    return row


def write_split(out: Path, split: str, ids, *, media: bool = True, **writer_kwargs) -> EmoCueWriter:
    with EmoCueWriter(out, split=split, **writer_kwargs) as writer:
        for i in ids:
            if media:
                make_mp4(writer.media_dir / f"clip_{i}.mp4")
            writer.add(record(i, emotion="happy" if i % 3 else "sad"))
    return writer


def temp_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    """A valid EmoCue folder: train (6 rows) and test (2 rows), each clip a real MP4."""
    out = tmp_path_factory.mktemp("emocue") / "synth"
    write_split(out, "train", range(6), check_media=True)
    write_split(out, "test", range(6, 8))
    return out


def run_validate(*argv) -> int:
    parser = argparse.ArgumentParser()
    validate_command.register(parser.add_subparsers())
    args = parser.parse_args(["validate", *map(str, argv)])
    return args.func(args)


# ---- schema -----------------------------------------------------------------------------------------


def test_validate_record_accepts_a_complete_record():
    assert validate_record({**record(1), "split": "train"}) == []


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"explanation": ""}, "explanation is missing"),
        ({"cues": {"visual": "smiles", "auditory": [], "emotional": []}}, "cues.visual is not a list of strings"),
        ({"cues": {"visual": [1], "auditory": [], "emotional": []}}, "cues.visual is not a list of strings"),
        ({"split": "trian"}, "unknown split 'trian'"),
        ({"video": None}, "neither video nor audio"),
        ({"emotion": 3}, "emotion must be a string"),
    ],
)
def test_validate_record_names_what_is_wrong(changes, expected):
    reasons = validate_record({**record(1), "split": "train", **changes})
    assert any(expected in reason for reason in reasons), reasons


def test_validate_record_checks_media_by_decoding(tmp_path):
    make_mp4(tmp_path / "ok.mp4")
    (tmp_path / "bad.mp4").write_text("not a video")
    assert validate_record({**record(1), "video": "ok.mp4", "split": "train"}, root=tmp_path, check_media=True) == []
    reasons = validate_record({**record(1), "video": "bad.mp4", "split": "train"}, root=tmp_path, check_media=True)
    assert reasons and "cannot be decoded" in reasons[0]


# ---- writer / layout --------------------------------------------------------------------------------


def test_writer_folder_loads_with_load_dataset_and_load_emocue_alike(dataset_dir):
    assert len(list((dataset_dir / "media").glob("*.mp4"))) == 8  # media must not make it a videofolder
    plain = datasets.load_dataset(str(dataset_dir))
    ours = load_emocue(dataset_dir)
    assert list(plain) == list(ours) == ["train", "test"]
    for split in plain:
        assert plain[split].num_rows == ours[split].num_rows
        assert plain[split]["id"] == ours[split]["id"]
    # the media travel inside the Parquet files (a Hub dataset's Video / Audio features); ours are paths again
    assert plain["train"].features == STORED_FEATURES
    stored = plain["train"].cast_column("video", datasets.Video(decode=False))[0]["video"]
    assert stored["path"] == "media/clip_0.mp4"
    assert stored["bytes"] == (dataset_dir / "media" / "clip_0.mp4").read_bytes()
    assert ours["train"].features == FEATURES
    assert ours["train"][0]["video"] == str(dataset_dir / "media" / "clip_0.mp4")
    assert ours["train"][0]["cues"] == CUES


def test_a_folder_without_its_media_folder_loads_from_the_embedded_media(dataset_dir, tmp_path, monkeypatch):
    """What a Hub copy of only the Parquet files gives: load_emocue writes the stored media out once (by content
    hash) and hands paths to them."""
    monkeypatch.setenv("XEMOGPT_CACHE", str(tmp_path / "cache"))
    bare = tmp_path / "bare"
    shutil.copytree(dataset_dir, bare, ignore=shutil.ignore_patterns("media"))
    ours = load_emocue(bare, split="train")
    path = Path(ours[0]["video"])
    assert path.is_relative_to(tmp_path / "cache" / "media") and path.name == "clip_0.mp4"
    assert path.read_bytes() == (dataset_dir / "media" / "clip_0.mp4").read_bytes()
    assert load_emocue(bare, split="train")[0]["video"] == str(path)  # written once


def test_folders_with_media_paths_still_load_and_licensed_media_stay_out_of_the_parquet(tmp_path):
    (tmp_path / "src").mkdir()
    make_mp4(tmp_path / "src" / "clip.mp4")
    row = {**record(0), "video": str(tmp_path / "src" / "clip.mp4")}
    write_emocue([row], tmp_path / "licensed", media_caveat=True)  # annotations only: media stay paths
    assert datasets.load_dataset(str(tmp_path / "licensed"), split="train").features == FEATURES
    assert load_emocue(tmp_path / "licensed", split="train")[0]["video"] == str(tmp_path / "src" / "clip.mp4")


def test_writer_exception_midway_leaves_nothing(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with EmoCueWriter(out) as writer:
            make_mp4(writer.media_dir / "clip_0.mp4")
            writer.add(record(0))
            raise RuntimeError("generator crashed")
    assert not out.exists()
    assert temp_leftovers(tmp_path) == []


def test_writer_invalid_row_raises_naming_the_row_and_writes_nothing(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(DatasetError, match="row clip_1: explanation is missing"):
        with EmoCueWriter(out) as writer:
            writer.add(record(0))
            writer.add(record(1, explanation=""))
    assert not out.exists() and temp_leftovers(tmp_path) == []


def test_writer_skip_invalid_drops_and_counts_bad_rows(tmp_path):
    rows = [record(0), record(1, explanation=None), record(0), record(2, cues={"visual": "x"})]
    writer = write_emocue(rows, tmp_path / "ds", skip_invalid=True)
    assert (writer.n_written, writer.n_skipped) == (1, 3)
    assert [row_id for row_id, _ in writer.skipped] == ["clip_1", "clip_0", "clip_2"]
    assert load_emocue(tmp_path / "ds", "train")["id"] == ["clip_0"]


def test_writer_adds_a_split_and_refuses_to_rewrite_one_without_overwrite(tmp_path):
    out = tmp_path / "ds"
    write_split(out, "train", range(3), media=False)
    write_split(out, "validation", range(3, 5), media=False)
    with pytest.raises(DatasetError, match="already has split 'train'"):
        EmoCueWriter(out, "train")
    with pytest.raises(DatasetError, match="duplicate id 'clip_0'"):
        write_split(out, "test", [0], media=False)
    with pytest.raises(RuntimeError):
        with EmoCueWriter(out, "test") as writer:
            writer.add(record(20))
            raise RuntimeError("crash while adding a split")
    assert sorted(load_emocue(out)) == ["train", "validation"]
    write_split(out, "train", range(10, 14), media=False, overwrite=True)
    loaded = datasets.load_dataset(str(out))  # the refreshed card keeps load_dataset's cache honest
    assert loaded["train"]["id"] == [f"clip_{i}" for i in range(10, 14)]
    assert loaded["validation"].num_rows == 2
    assert temp_leftovers(tmp_path) == []


def test_load_dataset_sees_a_regenerated_folder_with_the_same_sizes(tmp_path):
    out = tmp_path / "ds"
    write_split(out, "train", range(4), media=False)
    assert datasets.load_dataset(str(out), split="train")["id"][0] == "clip_0"
    shutil.rmtree(out)
    write_split(out, "train", range(4, 8), media=False)  # same row count, same byte size, other rows
    assert datasets.load_dataset(str(out), split="train")["id"][0] == "clip_4"


def test_writer_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not an EmoCue dataset folder"):
        EmoCueWriter(tmp_path, "train")


def test_writer_rejects_unknown_split(tmp_path):
    with pytest.raises(DatasetError, match="unknown split"):
        EmoCueWriter(tmp_path / "ds", split="dev")


# ---- loading ----------------------------------------------------------------------------------------


def test_load_emocue_reads_jsonl_metadata_split_by_column(tmp_path):
    rows = [record(0, split="train"), record(1, split="test", extra="dropped"), record(2)]  # no split: train
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    loaded = load_emocue(tmp_path)
    assert {s: ds["id"] for s, ds in loaded.items()} == {"train": ["clip_0", "clip_2"], "test": ["clip_1"]}
    assert loaded["test"].column_names == list(FEATURES)


def test_load_emocue_reads_csv_with_cues_as_json(tmp_path):
    path = tmp_path / "annotations.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "video", "explanation", "cues", "split"])
        writer.writeheader()
        writer.writerow({**{k: record(0)[k] for k in ("id", "video", "explanation")}, "cues": json.dumps(CUES),
                         "split": "train"})
    assert load_emocue(path, "train")[0]["cues"] == CUES


def test_load_emocue_resolves_file_names_against_media_root(tmp_path):
    clips = tmp_path / "licensed_clips"
    clips.mkdir()
    make_mp4(clips / "clip_0.mp4")
    write_emocue([record(0, video="clip_0.mp4"), record(1, video="media/clip_1.mp4")], tmp_path / "ann")
    loaded = load_emocue(tmp_path / "ann", "train", media_root=clips)
    assert loaded["video"] == [str(clips / "clip_0.mp4"), str(clips / "media" / "clip_1.mp4")]


def test_load_emocue_streaming_yields_the_same_rows(dataset_dir):
    streamed = load_emocue(dataset_dir, "train", streaming=True)
    assert isinstance(streamed, datasets.IterableDataset)
    assert [row["id"] for row in streamed] == load_emocue(dataset_dir, "train")["id"]


def test_load_emocue_unknown_split_names_the_available_ones(dataset_dir):
    with pytest.raises(DatasetError, match=r"no split 'validation' \(available"):
        load_emocue(dataset_dir, "validation")


@pytest.mark.usefixtures("hub_offline")
def test_load_emocue_hub_id_fails_clearly_when_offline():
    with pytest.raises(DatasetError, match="'someone/emocue-instruct' is neither a local file or folder"):
        load_emocue("someone/emocue-instruct")


def test_load_emocue_missing_local_path_says_so(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_emocue(tmp_path / "missing" / "metadata.jsonl")


# ---- converters -------------------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as f:  # the published CSVs carry a BOM
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def published(tmp_path) -> dict[str, Path]:
    emer = write_csv(tmp_path / "emer.csv", ["name", "chinese", "english"], [
        ["sample_00000001", "视频中……", EXPLANATION],
        ["sample_00000002", "视频中……", "In the video, the person frowns. Overall, the person seems angry."],
    ])
    cues = tmp_path / "cues.json"
    cues.write_text(json.dumps({
        "sample_00000001": CUES,
        "sample_00000002": {"visual": ["The person frowns"], "emotional": ["angry"]},
    }))
    mercaption = write_csv(tmp_path / "mercaption.csv", ["Name", "reason", "discrete", "sentence"], [
        ["sample_00000002", "unused: the EMER explanation wins", "angry", "Leave me alone."],
        ["sample_00000003", "In the audio, the voice trembles. Overall, the person seems fearful.", "fearful", ""],
    ])
    return {"emer_csv": emer, "cue_json": cues, "mercaption_csv": mercaption}


def test_readers_parse_each_published_format(published):
    assert read_emer_csv(published["emer_csv"])["sample_00000001"] == EXPLANATION
    assert read_cue_json(published["cue_json"])["sample_00000002"] == {
        "visual": ["The person frowns"], "auditory": [], "emotional": ["angry"]}
    details = read_mercaption_csv(published["mercaption_csv"])
    assert details["sample_00000003"]["emotion"] == "fearful"
    assert details["sample_00000003"]["explanation"].startswith("In the audio")
    assert details["sample_00000002"]["subtitle"] == "Leave me alone."


def test_convert_published_merges_into_an_annotation_only_dataset(published, tmp_path):
    writer = convert_published(tmp_path / "out", **published, license="cc-by-nc-4.0", name="EmoCue-Test")
    assert writer.n_written == 3
    rows = {row["id"]: row for row in datasets.load_dataset(str(tmp_path / "out"), split="train")}
    assert rows["sample_00000001"]["cues"] == CUES and rows["sample_00000001"]["video"] == "sample_00000001.mp4"
    assert rows["sample_00000002"]["explanation"].startswith("In the video, the person frowns")
    assert (rows["sample_00000002"]["emotion"], rows["sample_00000002"]["subtitle"]) == ("angry", "Leave me alone.")
    assert rows["sample_00000003"]["cues"] == {"visual": [], "auditory": [], "emotional": []}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "license: cc-by-nc-4.0" in card and "Media are not included" in card
    # media are obtained separately: validation reports them missing until a media root is given
    assert run_validate(tmp_path / "out", "--no-media-check") == 0
    assert run_validate(tmp_path / "out") == 1


def test_converter_names_missing_columns_and_malformed_cues(tmp_path):
    bad_csv = write_csv(tmp_path / "bad.csv", ["name", "text_zh"], [["a", "b"]])
    with pytest.raises(DatasetError, match=r"bad.csv: no explanation \(english\) column"):
        read_emer_csv(bad_csv)
    bad_json = tmp_path / "cues.json"
    bad_json.write_text(json.dumps({"a": {"visual": "smiles"}}))
    with pytest.raises(DatasetError, match="cues.visual of 'a' is not a list of strings"):
        read_cue_json(bad_json)


# ---- validation / `xemogpt validate` ----------------------------------------------------------------


@pytest.fixture
def broken_corpus(tmp_path) -> Path:
    """metadata.jsonl with one row per kind of problem, beside valid rows with real clips."""
    (tmp_path / "media").mkdir()
    for i in (0, 1):
        make_mp4(tmp_path / "media" / f"clip_{i}.mp4")
    (tmp_path / "media" / "broken.mp4").write_text("this is not a video")
    rows = [
        record(0, split="train"),
        record(1, split="train"),
        record("no_expl", video="media/clip_0.mp4", explanation="", split="train"),
        record("bad_cues", video="media/clip_0.mp4", cues={"visual": "smiles", "auditory": [], "emotional": []},
               split="train"),
        record("no_media", video="media/missing.mp4", split="train"),
        record("undecodable", video="media/broken.mp4", split="train"),
        record(1, split="test"),  # duplicate id
        record("odd_split", video="media/clip_1.mp4", split="trian"),
    ]
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_validate_reports_each_bad_row_by_id(broken_corpus):
    report = validate_dataset(broken_corpus)
    by_id = {}
    for problem in report.problems:
        by_id.setdefault(problem.id, []).append(problem.reason)
    assert set(by_id) == {"clip_no_expl", "clip_bad_cues", "clip_no_media", "clip_undecodable", "clip_1",
                          "clip_odd_split"}
    assert "explanation is missing" in by_id["clip_no_expl"][0]
    assert "cues.visual is not a list of strings" in by_id["clip_bad_cues"][0]
    assert "video file not found" in by_id["clip_no_media"][0]
    assert "cannot be decoded" in by_id["clip_undecodable"][0]
    assert "duplicate id" in by_id["clip_1"][0]
    assert "unknown split 'trian'" in by_id["clip_odd_split"][0]
    assert report.rows == 8 and not report.ok


def test_validate_command_prints_one_line_per_problem_and_exits_1(broken_corpus, capsys):
    assert run_validate(broken_corpus) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 7 and lines[-1].endswith("checked 8 rows (train: 6, test: 1, trian: 1): 6 problems in 6 rows")
    assert any(line.startswith("row clip_undecodable (train): video file cannot be decoded") for line in lines)


def test_validate_command_without_media_check_and_as_json(broken_corpus, capsys):
    assert run_validate(broken_corpus, "--no-media-check", "--json") == 1
    result = json.loads(capsys.readouterr().out)
    assert {p["id"] for p in result["problems"]} == {"clip_no_expl", "clip_bad_cues", "clip_1", "clip_odd_split"}
    assert result["ok"] is False and result["rows"] == 8


def test_validate_command_passes_a_good_dataset(dataset_dir, capsys):
    assert run_validate(dataset_dir) == 0
    assert capsys.readouterr().out.strip().endswith("checked 8 rows (train: 6, test: 2): OK")
    assert run_validate(dataset_dir, "--split", "test") == 0


def test_validate_cli_reports_a_missing_dataset_as_a_user_error(tmp_path, capsys):
    from processing import cli

    assert cli.main(["validate", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("xemogpt validate: error: ")


# ---- DPO pairs --------------------------------------------------------------------------------------

FREE_FORM = {
    "id": "free",
    "explanation": "She grins while speaking quickly; it sounds cheerful.",
    "cues": {"visual": ["she grins"], "auditory": ["speaks quickly"], "emotional": []},
    "emotion": None,
}


@pytest.mark.parametrize("kind", REJECTION_KINDS)
@pytest.mark.parametrize("rec", [{**record(0), "split": "train"}, FREE_FORM], ids=["structured", "free_form"])
def test_build_rejected_is_deterministic_and_differs_from_chosen(rec, kind):
    first = build_rejected(rec, seed=7, kind=kind)
    assert first == build_rejected(rec, seed=7, kind=kind)
    assert first != rec["explanation"]


def test_build_rejected_each_kind_corrupts_what_it_says():
    rec = {**record(0), "split": "train"}
    hallucinated = build_rejected(rec, 0, "hallucinated_cue")
    assert hallucinated.startswith(EXPLANATION.split(". ")[0]) and len(hallucinated) > len(EXPLANATION)
    swapped = build_rejected(rec, 0, "wrong_modality")
    assert swapped.startswith("In the audio, the person smiles")
    wrong = build_rejected(rec, 0, "wrong_emotion")
    assert "happy" not in wrong and wrong.replace(wrong.split()[-1], "happy.") == EXPLANATION
    moved = build_rejected(FREE_FORM, 0, "wrong_modality")
    assert "which is visible in the video" in moved or "audio" in moved


def test_wrong_emotion_contradicts_every_label_with_labels():
    assert set(CONTRADICTIONS) == set(EMOTION_NOUNS)
    assert all(set(wrong) <= set(EMOTION_NOUNS) - {label} for label, wrong in CONTRADICTIONS.items())


def test_build_rejected_varies_with_seed():
    rec = {**record(0), "split": "train"}
    assert len({build_rejected(rec, seed) for seed in range(8)}) > 1


def test_make_preference_pairs_is_prompt_free_and_deterministic():
    rows = [{**record(i), "split": "train", "rejected": None} for i in range(4)]
    rows[3]["rejected"] = "In the video, the person cries. Overall, the person seems sad."
    ds = datasets.Dataset.from_list(rows).cast_column("cues", FEATURES["cues"])
    pairs = make_preference_pairs(ds, seed=1)
    assert pairs.column_names == ["id", "video", "audio", "subtitle", "chosen", "rejected", "rejected_kind"]
    assert pairs.to_list() == make_preference_pairs(ds, seed=1).to_list()
    assert all(p["chosen"] != p["rejected"] for p in pairs)
    assert pairs[3]["rejected_kind"] == "record" and pairs[3]["rejected"] == rows[3]["rejected"]


# ---- dataset card -----------------------------------------------------------------------------------


def test_dataset_card_has_counts_emotions_licence_and_caveat(dataset_dir):
    card = make_dataset_card(dataset_dir, name="EmoCue-Mini", license="cc-by-nc-4.0",
                             description="A tiny test corpus.")
    text = str(card)
    assert card.data.license == "cc-by-nc-4.0" and card.data.pretty_name == "EmoCue-Mini"
    assert "| train | 6 |" in text and "| test | 2 |" in text and "| **total** | 8 |" in text
    assert "| happy | 4 | 1 |" in text and "| sad | 2 | 1 |" in text
    assert "Media are not included" in text and "`explanation`" in text
    assert card.data.configs[0]["data_files"] == [
        {"split": "train", "path": "data/train.parquet"}, {"split": "test", "path": "data/test.parquet"}]
    no_caveat = make_dataset_card(load_emocue(dataset_dir), name="x", license="mit", description="d",
                                  media_caveat=False)
    assert "Media are not included" not in str(no_caveat) and "| train | 6 |" in str(no_caveat)
