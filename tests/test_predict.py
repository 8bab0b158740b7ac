"""`xemogpt predict`: batched explanations of a whole EmoCue split, resumable, sharded, bad media skipped."""

import json

import pytest

from processing.cli import main
from processing.errors import DatasetError
from processing.metrics.emocue360.records import collect, read_records
from processing.inference.predict import PART_SUFFIX, predict, read_predictions
from processing.testing import tiny_model_and_processor
from tests.media_fixtures import write_test_video

GOOD = [f"clip-{i}" for i in range(5)]
BAD = "clip-broken"
IDS = GOOD[:2] + [BAD] + GOOD[2:]  # dataset order, the broken file in the middle
GENERATION = {"max_new_tokens": 3, "do_sample": False}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """An EmoCue folder (metadata.jsonl + media/) with 5 decodable clips of different lengths and one corrupt file."""
    root = tmp_path_factory.mktemp("emocue")
    (root / "media").mkdir()
    rows = []
    for index, key in enumerate(IDS):
        path = root / "media" / f"{key}.mp4"
        if key == BAD:
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 4)
        else:
            write_test_video(path, seconds=0.4 + 0.3 * index, fps=10, size=(32, 32), bframes=0)
        rows.append({"id": key, "video": f"media/{key}.mp4", "audio": None, "subtitle": f"line {index}",
                     "explanation": "In the video, the person smiles. Overall, the person seems happy.",
                     "emotion": "happy", "split": "test"})
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def tiny():
    model, processor = tiny_model_and_processor(seed=0)
    # the random tiny model's favourite token is a newline, which strips to an empty explanation
    model.generation_config.suppress_tokens = [processor.tokenizer.convert_tokens_to_ids("\u010a")]
    return model, processor


@pytest.fixture(scope="module")
def model_dir(tiny, save_model_folder):
    return save_model_folder(*tiny, "tiny-model")


def _predict(tiny, dataset, out, **options):
    model, processor = tiny
    options.setdefault("progress", False)
    return predict(model, dataset, out, processor=processor, batch_size=2, generation=GENERATION, **options)


def test_predict_writes_one_row_per_decodable_clip_in_dataset_order(tiny, dataset, tmp_path, capsys):
    out = tmp_path / "preds.jsonl"
    report = _predict(tiny, dataset, out)
    rows = read_predictions(out)
    assert [r["id"] for r in rows] == GOOD
    assert report.written == len(GOOD) and report.already_done == 0
    assert all(isinstance(r["explanation"], str) and r["explanation"] for r in rows)
    assert all(set(r["cues"]) == {"visual", "auditory", "emotional"} and "emotion" in r for r in rows)
    assert [key for key, _ in report.failed] == [BAD]


def test_bad_media_is_reported_in_one_line_with_its_id(tiny, dataset, tmp_path, capsys):
    _predict(tiny, dataset, tmp_path / "preds.jsonl")
    lines = [line for line in capsys.readouterr().err.splitlines() if BAD in line]
    assert len(lines) == 1 and lines[0].startswith(f"xemogpt predict: skipped {BAD}: ")


def test_output_is_what_evaluate_reads(tiny, dataset, tmp_path):
    out = tmp_path / "preds.jsonl"
    _predict(tiny, dataset, out, parse_cues=False)
    given, texts, _ = collect(read_records(str(out)), str(out))
    assert set(texts) == set(GOOD)
    assert all(cues is None for cues in given.values())  # --no-cues: evaluate's extractor parses them


def test_rerun_skips_done_ids_and_repairs_a_partial_last_line(tiny, dataset, tmp_path):
    out = tmp_path / "preds.jsonl"
    _predict(tiny, dataset, out)
    complete = out.read_text().splitlines()
    # a crash after three rows, in the middle of writing the fourth
    out.write_text("\n".join(complete[:3]) + "\n" + complete[3][:17])
    report = _predict(tiny, dataset, out)
    assert report.already_done == 3 and report.written == 2
    assert report.notes and "partial last line" in report.notes[0]
    assert out.read_text().splitlines() == complete  # greedy: the same rows, in dataset order
    again = _predict(tiny, dataset, out)
    assert again.written == 0 and again.already_done == len(GOOD)


def test_limit_takes_the_first_rows_of_the_split(tiny, dataset, tmp_path):
    out = tmp_path / "preds.jsonl"
    report = _predict(tiny, dataset, out, limit=2)
    assert [r["id"] for r in read_predictions(out)] == GOOD[:2] and report.total == 2


def test_processes_take_disjoint_shards_and_the_main_one_merges(tiny, dataset, tmp_path):
    out = tmp_path / "preds.jsonl"
    second = _predict(tiny, dataset, out, process_index=1, num_processes=2)
    part = out.with_name(out.name + PART_SUFFIX + "1")
    shard = [r["id"] for r in read_predictions(part)]
    assert shard and set(shard) < set(GOOD)
    first = _predict(tiny, dataset, out, process_index=0, num_processes=2)
    assert not part.exists()
    assert [r["id"] for r in read_predictions(out)] == GOOD
    failed = [key for key, _ in first.failed + second.failed]
    assert failed == [BAD]
    # run one after the other here, so the main process found the other's rows already written
    assert first.already_done + first.written == len(GOOD)


def test_cli_predicts_from_a_model_folder(model_dir, dataset, tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    code = main(["predict", str(model_dir), str(dataset), "--out", str(out), "--limit", "2", "--batch-size", "2",
                 "--max-new-tokens", "2", "--no-progress"])
    assert code == 0
    assert [r["id"] for r in read_predictions(out)] == GOOD[:2]
    assert "wrote 2 predictions" in capsys.readouterr().err


def test_cli_reports_a_missing_split_in_one_line(model_dir, dataset, tmp_path, capsys):
    code = main(["predict", str(model_dir), str(dataset), "--out", str(tmp_path / "p.jsonl"), "--split", "train"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("xemogpt predict: error: ") and "train" in err[0]


def test_a_bad_line_in_the_middle_of_the_output_is_an_error(tmp_path):
    from processing.errors import DatasetError

    out = tmp_path / "preds.jsonl"
    out.write_text('{"id": "a", "explanation": "x"}\nnot json\n{"id": "b", "explanation": "y"}\n')
    with pytest.raises(DatasetError, match=r"preds.jsonl:2"):
        read_predictions(out)


def test_an_empty_explanation_gets_empty_cues():
    from processing.inference.predict import prediction_row

    row = prediction_row("x", "", parse_cues=False)
    assert row["cues"] == {"visual": [], "auditory": [], "emotional": []}


@pytest.mark.parametrize("content", [
    '{"clip-1": {"visual": ["The person smiles."]}}',          # json.dump of a references file: no newline
    '{"clip-1": {"visual": ["The person smiles."]}}\n',
    'id,explanation\nclip-1,"In the video"',                   # a CSV
], ids=["json-no-newline", "json", "csv"])
def test_an_existing_file_that_is_not_predictions_is_refused_and_left_untouched(tiny, dataset, tmp_path, content):
    out = tmp_path / "refs.json"
    out.write_text(content)
    with pytest.raises(DatasetError, match=r"refs.json:\d+: not a prediction row .*is this a predictions file"):
        _predict(tiny, dataset, out)
    assert out.read_text() == content


def test_sft_held_out_explanations_and_predict_share_one_batched_generation(tiny, dataset):
    """`generate_explanations` (SFT's held-out texts, rows through the training collator) and `generate_batch`
    (predict, timeline, attribution, the evaluation scripts) give the same texts for the same clips, batched or not."""
    from processing.data.emocue import load_emocue
    from processing.inference.predict import decode_row, generate_batch
    from processing.training.sft import generate_explanations

    model, processor = tiny
    rows = [dict(r) for r in load_emocue(dataset, split="test") if r["id"] != BAD][:3]
    texts = generate_explanations(model, processor, rows, batch_size=2, max_new_tokens=3)
    clips = [decode_row(row, processor) for row in rows]
    assert texts == generate_batch(model, processor, clips, GENERATION)
    assert texts == [generate_batch(model, processor, [clip], GENERATION)[0] for clip in clips]
    assert all(texts)
