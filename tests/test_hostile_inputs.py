"""Hostile and careless inputs across the commands: each is one line on stderr naming the culprit, a documented exit
code (2: nothing done; 1: a batch that skipped rows; 0: done, with a note where an input was bounded), no traceback,
and nothing left half-written. Every row of CASES is one input; the count is reported in the issue's note."""

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from processing.cli import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "models" / "xemogpt-synth-tiny"
CLIP = ROOT / "spaces_demo" / "examples" / "happy-11.mp4"
SFT = ROOT / "examples" / "recipes" / "synth-tiny" / "sft.yaml"
DPO = ROOT / "examples" / "recipes" / "synth-tiny" / "dpo.yaml"
UNWRITABLE = "/proc/xemogpt-cannot-write-here"  # not writable even for root


@dataclass
class Case:
    argv: list  # strings; "{x}" is filled from the workspace (see `fill`)
    code: int  # the exit code
    says: str  # a piece of the one error line (rc 2) or of the note / summary (rc 0 / 1)
    unchanged: list = field(default_factory=list)  # workspace files that must keep their bytes
    absent: list = field(default_factory=list)  # workspace paths that must not exist afterwards


CASES = {
    # ---- text files that are not UTF-8, or rows of the wrong shape
    "validate: latin-1 metadata": Case(["validate", "{latin1}"], 2, "not UTF-8 text (byte 0xe9"),
    "evaluate: latin-1 references": Case(["evaluate", "--references", "{latin1}", "--predictions", "{good}"], 2,
                                         "not UTF-8 text"),
    "predict: latin-1 dataset": Case(["predict", "{model}", "{latin1}", "--out", "{w}/p.jsonl"], 2, "not UTF-8 text",
                                     absent=["p.jsonl"]),
    "evaluate: cues given as a string": Case(["evaluate", "--references", "{cues_str}", "--predictions", "{good}"], 2,
                                             "do not fit the EmoCue schema"),
    "evaluate: cues given as a string in a JSONL file": Case(
        ["evaluate", "--references", "{cues_str}/metadata.jsonl", "--predictions", "{good}"], 2, "cues are a string"),
    "predict: cues given as a string": Case(["predict", "{model}", "{cues_str}", "--out", "{w}/p.jsonl"], 2,
                                            "do not fit the EmoCue schema", absent=["p.jsonl"]),
    "train sft: cues given as a string": Case(
        ["train", "sft", "--config", str(SFT), "--dataset_name", "{cues_str}", "--dataset_train_split", "validation",
         "--output_dir", "{w}/sft", "--max_steps", "1"], 2, "do not fit the EmoCue schema", absent=["sft"]),
    "validate: media path out of the folder": Case(["validate", "{escape}"], 1, "leads outside the dataset folder"),
    "predict: media path out of the folder": Case(["predict", "{model}", "{escape}", "--out", "{w}/p.jsonl"], 2,
                                                  "leads outside", absent=["p.jsonl"]),
    "validate: rows without cues": Case(["validate", "{no_cues}"], 0, "2 of 2 rows have no cues"),
    # ---- outputs that cannot be written, or would overwrite what is not ours
    "predict: --out is a folder": Case(["predict", "{model}", "{data}", "--split", "validation", "--out", "{w}"], 2,
                                       "is a folder"),
    "predict: --out not writable": Case(["predict", "{model}", "{data}", "--split", "validation", "--out",
                                         UNWRITABLE + "/p.jsonl"], 2, "No such file or directory"),
    "predict: --out a JSON file that is not predictions": Case(
        ["predict", "{model}", "{data}", "--split", "validation", "--out", "{w}/refs.json"], 2, "refs.json",
        unchanged=["refs.json"]),
    "evaluate: --out is an existing file": Case(
        ["evaluate", "--references", "{good}", "--predictions", "{good}", "--out", "{w}/keep.txt"], 2, "is a file",
        unchanged=["keep.txt"]),
    "evaluate: --out not writable": Case(
        ["evaluate", "--references", "{good}", "--predictions", "{good}", "--out", UNWRITABLE], 2,
        "No such file or directory"),
    "synth: output not writable": Case(["synth", UNWRITABLE, "--num-samples", "2"], 2, "No such file or directory"),
    "synth: --splits with a bad fraction": Case(["synth", "{w}/s", "--splits", "train=1,test=abc"], 2,
                                                "'test=abc' is not NAME=FRACTION", absent=["s"]),
    "synth: --num-samples 0": Case(["synth", "{w}/s", "--num-samples", "0"], 2, "num-samples", absent=["s"]),
    # ---- training flags
    "train sft: --resume_from_checkpoint true without checkpoints": Case(
        ["train", "sft", "--config", str(SFT), "--dataset_name", "{data}", "--output_dir", "{w}/sft",
         "--resume_from_checkpoint", "true"], 2, "--resume_from_checkpoint: no checkpoint in", absent=["sft"]),
    "train dpo: --resume_from_checkpoint last without checkpoints": Case(
        ["train", "dpo", "--config", str(DPO), "--dataset_name", "{data}", "--model_name_or_path", "{model}",
         "--output_dir", "{w}/dpo", "--resume_from_checkpoint", "last"], 2, "no checkpoint in", absent=["dpo"]),
    "train sft: a recipe that does not exist": Case(["train", "sft", "--config", "{w}/nope.yaml"], 2, "nope.yaml"),
    "train sft: an unknown recipe key": Case(["train", "sft", "--config", "{bad_recipe}"], 2, "bad recipe or flag"),
    # ---- models and generation flags
    "explain: --model an empty folder": Case(["explain", "{clip}", "--model", "{empty}"], 2, "cannot load model"),
    "explain: --model with truncated weights": Case(["explain", "{clip}", "--model", "{truncated}"], 2,
                                                    "cannot load model"),
    "explain: --max-new-tokens 0": Case(["explain", "{clip}", "--max-new-tokens", "0"], 2, "at least 1"),
    "explain: --temperature -1": Case(["explain", "{clip}", "--do-sample", "--temperature", "-1"], 2,
                                       "must be greater than 0"),
    "explain: --num-beams 0": Case(["explain", "{clip}", "--num-beams", "0"], 2, "at least 1"),
    "explain: an untrained model": Case(["explain", "{clip}", "--model", "{untrained}"], 2,
                                        "is an untrained model"),
    "explain: an untrained model, asked for": Case(["explain", "{clip}", "--model", "{untrained}", "--allow-untrained",
                                                    "--max-new-tokens", "4"], 0, "is UNTRAINED (random weights)"),
    "explain: a video that is not there": Case(["explain", "{w}/missing.mp4"], 2, "missing.mp4"),
    "explain: a text file named .mp4": Case(["explain", "{fake_mp4}"], 2, "fake.mp4"),
    # ---- unbounded lengths are bounded, with a note
    "explain: a 100 000-character subtitle": Case(["explain", "{clip}", "--subtitle", "{long_subtitle}",
                                                   "--max-new-tokens", "8"], 0, "subtitle cut to its first 512 tokens"),
    "evaluate: a 10 MB explanation": Case(["evaluate", "--references", "{good}", "--predictions", "{huge}"], 0,
                                          "cut to its first 20,000"),
    "explain: beam search": Case(["explain", "{clip}", "--num-beams", "2", "--max-new-tokens", "8"], 0, "emotion:"),
    # ---- a batch where every row fails
    "predict: every clip unreadable": Case(["predict", "{model}", "{broken}", "--out", "{w}/p.jsonl", "--no-progress"],
                                           1, "2 skipped (media did not decode)", absent=["p.jsonl"]),
}


@pytest.fixture(scope="module")
def workspace(synth_corpus):
    """A 6-clip EmoCue-Synth folder (conftest's `synth_corpus`) and, next to it, hostile variants of its rows and
    files."""
    from processing.data.emocue import load_emocue

    data = synth_corpus
    root = data.parent
    rows = [dict(r) for r in load_emocue(data, split="validation")]

    def records(name, change):
        folder = root / name
        folder.mkdir()
        changed = []
        for row in rows:
            row = json.loads(json.dumps(row))
            change(row)
            changed.append(row)
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in changed))
        return folder

    paths = {
        "data": data, "model": MODEL, "clip": CLIP, "untrained": MODEL.with_name("xemogpt-synth-tiny-untrained"),
        "good": records("good", lambda r: None),
        "cues_str": records("cues_str", lambda r: r.update(cues="a string")),
        "escape": records("escape", lambda r: r.update(video="../../../../etc/passwd", audio=None)),
        "no_cues": records("no_cues", lambda r: r.pop("cues")),
        "broken": records("broken", lambda r: r.update(video=str(root / "fake.mp4"), audio=None)),
    }
    (root / "latin1.jsonl").write_bytes(b'{"id": "a", "explanation": "caf\xe9", "video": "x.mp4"}\n')
    (root / "huge.jsonl").write_text(json.dumps({"id": rows[0]["id"], "explanation": "x " * 5_000_000}) + "\n")
    (root / "fake.mp4").write_text("this is a text file, not a video")
    (root / "empty").mkdir()
    (root / "truncated").mkdir()
    for name in ("config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(MODEL / name, root / "truncated" / name)
    (root / "truncated" / "model.safetensors").write_bytes((MODEL / "model.safetensors").read_bytes()[:5000])
    (root / "bad_recipe.yaml").write_text(SFT.read_text() + "\nno_such_key: 1\n")
    (root / "refs.json").write_text(json.dumps([{"id": "a", "explanation": "x"}]))
    (root / "keep.txt").write_text("a file of the user's\n")
    paths.update({name: root / name for name in ("latin1.jsonl", "huge.jsonl", "fake.mp4", "empty", "truncated",
                                                   "bad_recipe.yaml")})
    paths.update(latin1=root / "latin1.jsonl", huge=root / "huge.jsonl", fake_mp4=root / "fake.mp4",
                 bad_recipe=root / "bad_recipe.yaml", long_subtitle="I am so happy today. " * 5000, w=root)
    return paths


def fill(argv, paths) -> list[str]:
    return [str(arg).format(**{k: str(v) for k, v in paths.items()}) for arg in argv]


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.usefixtures("hub_offline")
def test_hostile_input(name, workspace, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    case = CASES[name]
    root = workspace["w"]
    before = {f: (root / f).read_bytes() for f in case.unchanged}
    try:
        code = main(fill(case.argv, workspace))
    except SystemExit as exit_:  # argparse's own one-line usage errors
        code = exit_.code
    captured = capsys.readouterr()
    err, out = captured.err, captured.out
    assert "Traceback" not in err + out, err[-2000:]
    assert code == case.code, err[-2000:]
    errors = [line for line in err.splitlines() if ": error: " in line]
    if case.code == 2:
        assert len(errors) == 1 and case.says in errors[0], err[-2000:]
    else:
        assert not errors and case.says in err + out, err[-2000:]
    for f, content in before.items():
        assert (root / f).read_bytes() == content, f"{f} was changed"
    for f in case.absent:
        assert not (root / f).exists(), f"{f} was left behind"
    assert not list(root.glob(".*tmp*")), "a staging folder was left behind"
