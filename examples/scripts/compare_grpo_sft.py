"""GRPO with cue rewards vs continued SFT, from the same checkpoint, for the same wall-clock budget.

    python examples/scripts/compare_grpo_sft.py [--start examples/models/xemogpt-synth-tiny] [--budget 480]
        [--eval_per_split 200] [--out runs/grpo-vs-sft] [--result examples/models/xemogpt-synth-tiny/grpo_vs_sft.json]

1. Training prompts: a fresh EmoCue-Synth train split (seed 1, `--train_samples` clips; the held-out clips are seed 0's
   test / compositional splits, the ones evaluate_demo_model.py uses).
2. `xemogpt train sft` (examples/recipes/synth-tiny/sft.yaml, cached encoder outputs) and `xemogpt train grpo`
   (examples/recipes/synth-tiny/grpo.yaml), both from `--start`, at the same constant learning rate, each stopped by
   `--max_train_seconds BUDGET`. The two run at the same time, one torch thread each, so that they share the machine
   alike (sequential runs on a shared 2-core machine would not get the same budget).
3. The start, the SFT and the GRPO models explain the held-out clips (greedy, evaluate_demo_model.py's pipeline);
   per clip: emotion right, exact canonical cues (true positives / reference / predicted, visual and auditory),
   EmoCue-360 F1 per modality (rule extractor), invented cues (stated canonical cues the clip does not have).
4. Percentile bootstrap over clips (2000 resamples, paired: the same resampled clips for every system) for each
   system's value and for each difference; a difference "is outside the interval" when its 95 % interval excludes 0.

Writes the JSON result to `--result` (and prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_model_scores import decode, eval_records, generate  # noqa: E402

from processing.data.synth.cues import recover_cues  # noqa: E402

MODALITIES = ("visual", "auditory")
RESAMPLES = 2000


def train(method: str, start: str, data: Path, out: Path, budget: float, learning_rate: float, log: Path):
    recipe = ROOT / "examples" / "recipes" / "synth-tiny" / f"{method}.yaml"
    argv = [sys.executable, "-m", "processing.cli", "train", method, "--config", str(recipe),
            "--model_name_or_path", start, "--dataset_name", str(data), "--output_dir", str(out),
            "--max_steps", "100000", "--max_train_seconds", str(budget), "--learning_rate", str(learning_rate),
            "--lr_scheduler_type", "constant", "--warmup_steps", "0", "--eval_strategy", "no",
            "--logging_steps", "5", "--disable_tqdm", "true"]
    if method == "sft":
        argv += ["--cache_features", "true", "--num_train_epochs", "1000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def per_clip(records: list[dict], texts: list[str]) -> dict[str, np.ndarray]:
    """Per-clip measurements of one system's explanations."""
    from processing.metrics.emocue360 import parse_explanation, score_cues
    from processing.training.rewards import emotion_reward

    # emotion right as the GRPO emotion reward reads it (EmoCue-360's extraction and synonym groups)
    out = {"emotion": emotion_reward(texts, emotion=[r["emotion"] for r in records]), "invented": []}
    for category in MODALITIES:
        out[f"exact_{category}"] = []
    for record, text in zip(records, texts):
        cues = recover_cues(text)
        invented = 0
        for category in MODALITIES:
            reference, predicted = set(record["cues"][category]), set(cues.get(category, []))
            out[f"exact_{category}"].append((len(reference & predicted), len(reference), len(predicted)))
            invented += len(predicted - reference)
        out["invented"].append(float(invented))
    result = score_cues({r["id"]: r["cues"] for r in records},
                        {r["id"]: parse_explanation(t) for r, t in zip(records, texts)}).per_sample()
    for category in MODALITIES:
        out[f"emocue360_{category}"] = [result.get(r["id"], {}).get(category) for r in records]
        out[f"emocue360_{category}"] = [np.nan if s is None else s.f1 for s in out[f"emocue360_{category}"]]
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def statistic(name: str, values: np.ndarray, index=None) -> np.ndarray | float:
    """The corpus value of a measurement (micro F1 for exact cues, means otherwise), over `index` resamples."""
    values = values if index is None else values[index]
    if name.startswith("exact_"):
        tp, n_ref, n_pred = (values.sum(axis=-2)[..., k] for k in range(3))
        precision, recall = tp / np.maximum(n_pred, 1), tp / np.maximum(n_ref, 1)
        return 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    return np.nanmean(values, axis=-1)


def compare(measured: dict[str, dict[str, np.ndarray]], pairs, seed: int = 0) -> dict:
    n = len(next(iter(measured.values()))["emotion"])
    index = np.random.default_rng(seed).integers(0, n, size=(RESAMPLES, n))
    out = {"systems": {}, "differences": {}}
    for system, values in measured.items():
        out["systems"][system] = {
            name: {"value": float(statistic(name, v)),
                   "ci95": [float(x) for x in np.percentile(statistic(name, v, index), [2.5, 97.5])]}
            for name, v in values.items()}
    for a, b in pairs:
        out["differences"][f"{a} - {b}"] = {}
        for name in measured[a]:
            delta = statistic(name, measured[a][name], index) - statistic(name, measured[b][name], index)
            lo, hi = np.percentile(delta, [2.5, 97.5])
            value = float(statistic(name, measured[a][name]) - statistic(name, measured[b][name]))
            out["differences"][f"{a} - {b}"][name] = {"value": value, "ci95": [float(lo), float(hi)],
                                                      "outside_interval": bool(lo > 0 or hi < 0)}
    return out


def training_summary(log: Path) -> dict:
    """Steps, runtime and the first / last logged values of a run, from the dicts its trainer printed."""
    import ast

    entries = [ast.literal_eval(line[line.index("{"):]) for line in log.read_text(errors="replace").splitlines()
               if line.lstrip().startswith("{'")]
    steps = [e for e in entries if "loss" in e]
    final = next((e for e in entries if "train_runtime" in e), {})
    keep = [k for k in (steps[0] if steps else {}) if k.startswith(("loss", "rewards/", "kl", "reward", "completions/mean"))]

    def mean(rows):
        return {k: round(float(np.mean([float(r[k]) for r in rows if k in r])), 4) for k in keep}

    return {"optimizer_steps": round(float(final.get("train_runtime", 0)) * float(final.get("train_steps_per_second", 0))),
            "train_runtime_s": float(final.get("train_runtime", 0)), "logs": len(steps),
            "first_5_logs_mean": mean(steps[:5]), "last_5_logs_mean": mean(steps[-5:])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default=str(ROOT / "examples/models/xemogpt-synth-tiny"))
    parser.add_argument("--budget", type=float, default=480, help="training seconds per method")
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--train_samples", type=int, default=400)
    parser.add_argument("--eval_per_split", type=int, default=200)
    parser.add_argument("--train_data", default=None, help="EmoCue-Synth folder with a train split (default OUT/train-data)")
    parser.add_argument("--eval_data", default="/tmp/xemogpt-synth-eval-s0-1000")
    parser.add_argument("--out", default="runs/grpo-vs-sft")
    parser.add_argument("--result", default=str(ROOT / "examples/models/xemogpt-synth-tiny/grpo_vs_sft.json"))
    parser.add_argument("--skip_training", action="store_true", help="evaluate the models already in --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - t0:6.0f}s] {message}", flush=True)

    data = Path(args.train_data) if args.train_data else out / "train-data"
    if not (data / "data" / "train.parquet").exists():
        from processing.data.synth.corpus import generate_corpus
        generate_corpus(data, args.train_samples, seed=1, split_fractions={"train": 1.0}, num_workers=2)
    log(f"training prompts: {data} ({args.train_samples} clips)")
    if not args.skip_training:
        runs = {m: train(m, args.start, data, out / m, args.budget, args.learning_rate, out / f"{m}.log")
                for m in ("sft", "grpo")}
        for method, process in runs.items():
            if process.wait() != 0:
                raise SystemExit(f"{method} failed: see {out / f'{method}.log'}")
        log("trained")
    torch.set_num_threads(2)

    from transformers import AutoModel, AutoProcessor

    import modeling_xemogpt  # noqa: F401

    n_eval = 2 * args.eval_per_split
    records = eval_records(Path(args.eval_data), 1000, 0)
    records = [r for split in ("test", "compositional") for r in records[split][: args.eval_per_split]]
    systems = {"start": args.start, "continued SFT": str(out / "sft"), "GRPO": str(out / "grpo")}
    measured, texts = {}, {}
    for name, folder in systems.items():
        model = AutoModel.from_pretrained(folder).eval()
        processor = AutoProcessor.from_pretrained(folder)
        texts[name] = generate(model, processor, decode(records, processor))
        measured[name] = per_clip(records, texts[name])
        log(f"{name}: emotion {measured[name]['emotion'].mean():.3f}")
    report = compare(measured, [("GRPO", "continued SFT"), ("GRPO", "start"), ("continued SFT", "start")])
    report.update({
        "start": args.start, "budget_seconds": args.budget, "learning_rate": args.learning_rate,
        "eval_clips": {"test": args.eval_per_split, "compositional": args.eval_per_split, "total": n_eval},
        "train_prompts": args.train_samples,
        "training": {m: training_summary(out / f"{m}.log") for m in ("sft", "grpo")},
        "samples": {name: [{"id": r["id"], "generated": t} for r, t in list(zip(records, ts))[:3]]
                    for name, ts in texts.items()},
        "measurements": {"emotion": "emotion accuracy", "exact_visual / exact_auditory": "micro F1 of the exact "
                         "canonical cues", "emocue360_visual / emocue360_auditory": "EmoCue-360 F1 (rule extractor, "
                         "mean over clips)", "invented": "stated canonical visual + auditory cues the clip does not "
                         "have, per clip"},
        "seconds": time.perf_counter() - t0,
    })
    Path(args.result).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("systems", "differences")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
