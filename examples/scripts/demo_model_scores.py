"""Scores of the demo model's cue-perception study (evaluate_demo_model.py and the scripts that reuse its pipeline).

The held-out corpus (`eval_records`: test + compositional EmoCue-Synth clips), its clips decoded and explained as
`xemogpt predict` does (`decode`, `generate`), and the scores of the explanations against the clips' factors
(`score`: emotion accuracy with a bootstrap interval, exact and EmoCue-360 cue F1, every factor's accuracy, the
direction of change, whether the conclusion follows the model's own cues); `prior_prediction`, the prior-only
baseline.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from processing.data.synth.cues import CUE_TABLE, canonical_cues, recover_cues  # noqa: E402
from processing.data.synth.factors import CUE_FACTORS, VISUAL_FACTORS, AUDITORY_FACTORS, Factors  # noqa: E402


FACTORS = list(VISUAL_FACTORS) + list(AUDITORY_FACTORS)
DIRECTION = "dynamics"  # the direction-of-change cue (neutral -> X vs X -> neutral)


def factor_values(cues: dict) -> dict:
    """The value of every cue factor that a canonical cue set states; factors it does not state get the value
    the corpus leaves unstated (e.g. brows 'neutral'), or None when that is ambiguous."""
    stated = set(cues.get("visual", [])) | set(cues.get("auditory", []))
    out = {}
    for factor in FACTORS:
        found = None
        for value in CUE_FACTORS[factor]:
            cue = CUE_TABLE.get((factor, value))
            if cue is None:
                continue
            pattern = re.escape(cue.statement).replace(re.escape("{x}"), ".+")
            if any(re.fullmatch(pattern, s) for s in stated):
                found = value
        if found is None:
            unstated = [v for v in CUE_FACTORS[factor] if (factor, v) not in CUE_TABLE]
            found = unstated[0] if len(unstated) == 1 else None
        out[factor] = found
    return out


# canonical emotional statement -> its CUE_TABLE key, e.g. "The person feels sad." -> ("emotion", "sad")
_EMOTIONAL_KEYS = {c.statement: key for key, c in CUE_TABLE.items() if c.category == "emotional" and "{x}" not in c.statement}


def stated_readings(cues: dict) -> dict:
    """What an explanation's emotional cues state: {"emotion": ..., "sentiment": ..., "face reading": ...} (keys that
    it does not state are absent)."""
    return dict(_EMOTIONAL_KEYS[s] for s in cues.get("emotional", []) if s in _EMOTIONAL_KEYS)


def stated_emotion(cues: dict) -> str | None:
    """The emotion of the canonical cue "The person feels X." (the explanation's conclusion), if stated."""
    return stated_readings(cues).get("emotion")


def reasoning(record: dict, cues: dict) -> dict | None:
    """What the rules (processing/data/synth/rules.py) make of the cues an explanation states itself: `follows` = its
    conclusion is the emotion its own cues (and its own reading of the subtitle) imply; `sound` = those cues imply
    the clip's true emotion. None when a factor cannot be read off the explanation; both False when the stated cues
    contradict each other."""
    from processing.data.synth.rules import derive_emotion

    values = factor_values(cues)
    if any(v is None for v in values.values()):
        return None
    said = stated_readings(cues)
    factors = {**json.loads(record["factors"]), **values}
    factors["sentiment"] = said.get("sentiment", factors["sentiment"])
    try:
        stated = Factors(**factors)
    except ValueError:  # the stated cues contradict each other (e.g. a face change with no expression): no rule
        return {"follows": False, "sound": False}  # applies, so neither can the conclusion follow nor be sound
    implied = derive_emotion(stated).emotion
    return {"follows": said.get("emotion") == implied, "sound": implied == record["emotion"]}


def prf(reference: list[set], predicted: list[set]) -> dict:
    tp = sum(len(r & p) for r, p in zip(reference, predicted))
    n_ref, n_pred = sum(len(r) for r in reference), sum(len(p) for p in predicted)
    precision, recall = tp / max(n_pred, 1), tp / max(n_ref, 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-9)}


BOOTSTRAP_RESAMPLES = 2000


def bootstrap_intervals(correct: np.ndarray, counts: dict[str, np.ndarray], *, resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap intervals over clips (resampled with replacement, `resamples` times): for the mean of
    `correct` (one 0/1 per clip: emotion accuracy) and for the micro F1 of each `counts[name]`, an (n, 3) array of
    per-clip (true positives, reference cues, predicted cues). Returns {"emotion_accuracy": [lo, hi],
    "<name>_f1": [lo, hi], ...}; `seed` fixes the resamples so a report is reproducible."""
    n = len(correct)
    if n == 0:
        return {}
    index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    tail = 100 * (1 - level) / 2

    def interval(values):
        lo, hi = np.percentile(values, [tail, 100 - tail])
        return [float(lo), float(hi)]

    out = {"emotion_accuracy": interval(np.asarray(correct, dtype=float)[index].mean(axis=1))}
    for name, per_clip in counts.items():
        tp, n_ref, n_pred = (np.asarray(per_clip, dtype=float)[index].sum(axis=1)[:, k] for k in range(3))
        precision, recall = tp / np.maximum(n_pred, 1), tp / np.maximum(n_ref, 1)
        out[f"{name}_f1"] = interval(2 * precision * recall / np.maximum(precision + recall, 1e-9))
    return out


def score(records: list[dict], predictions: list[dict], embedder) -> dict:
    """predictions: per record {"explanation": str} or {"cues": dict, "emotion": str} (prior baseline)."""
    from processing.metrics.emocue360 import evaluate, extract_emotion

    pred_cues = [p["cues"] if "cues" in p else recover_cues(p["explanation"]) for p in predictions]
    pred_emotions = [p.get("emotion") or stated_emotion(c) or extract_emotion(p["explanation"])
                     for p, c in zip(predictions, pred_cues)]
    extracted = [p.get("emotion") or extract_emotion(p["explanation"]) for p in predictions]
    out = {"n": len(records), "emotion_accuracy": float(np.mean([e == r["emotion"] for e, r in zip(pred_emotions, records)])),
           "emotion_accuracy_emocue360_extractor": float(np.mean([e == r["emotion"] for e, r in zip(extracted, records)]))}
    counts = {}
    for category in ("visual", "auditory"):
        reference, predicted = [set(r["cues"][category]) for r in records], [set(c.get(category, [])) for c in pred_cues]
        out[f"exact_{category}"] = prf(reference, predicted)
        counts[f"exact_{category}"] = np.array([(len(r & p), len(r), len(p)) for r, p in zip(reference, predicted)])
    # 95 % intervals over clips: at 150 clips one clip is 0.7 points of emotion accuracy
    out["bootstrap_95"] = bootstrap_intervals(np.array([e == r["emotion"] for e, r in zip(pred_emotions, records)]), counts)
    refs = [{"id": r["id"], "cues": r["cues"], "emotion": r["emotion"]} for r in records]
    preds = [{"id": r["id"], "explanation": p["explanation"]} if "explanation" in p
             else {"id": r["id"], "cues": p["cues"], "emotion": p["emotion"]} for r, p in zip(records, predictions)]
    result = evaluate(refs, preds, extractor="rule", embedder=embedder)
    out["emocue360"] = {c: result.categories[c].to_dict() for c in ("visual", "auditory", "emotional")}
    per_factor = {}
    for factor in FACTORS:
        gold = [json.loads(r["factors"])[factor] for r in records]
        got = [factor_values(c)[factor] for c in pred_cues]
        per_factor[factor] = float(np.mean([g == p for g, p in zip(gold, got)]))
    out["per_factor_accuracy"] = per_factor
    changing = [i for i, r in enumerate(records) if json.loads(r["factors"])["dynamics"] != "steady"]
    if "explanation" in predictions[0]:  # does the conclusion follow from the model's own cues?
        verdicts = [reasoning(r, c) for r, c in zip(records, pred_cues)]
        judged = [j for j in verdicts if j is not None]
        out["conclusion_follows_own_cues"] = float(np.mean([j["follows"] for j in judged])) if judged else None
        out["own_cues_imply_true_emotion"] = float(np.mean([j["sound"] for j in judged])) if judged else None
        # where the wrong emotions come from (shares of all clips): the stated cues already imply another emotion
        # (perception), they imply the true one but the conclusion does not follow (reasoning), or unreadable
        causes = Counter("unreadable" if j is None else "reasoning" if j["sound"] else "perception"
                         for e, r, j in zip(pred_emotions, records, verdicts) if e != r["emotion"])
        out["wrong_emotion_causes"] = {k: causes[k] / len(records) for k in ("perception", "reasoning", "unreadable")}
    out["direction_of_change_accuracy"] = float(np.mean(
        [factor_values(pred_cues[i])["dynamics"] == json.loads(records[i]["factors"])["dynamics"] for i in changing]
    )) if changing else None
    return out


# ---- data and inference ----------------------------------------------------------------------------------------


def eval_records(data_dir: Path, num_samples: int, seed: int) -> dict[str, list[dict]]:
    """The test and compositional clips (half each) of the evaluation corpus in `data_dir`, generated there first
    when it is missing or holds another number of clips."""
    import pyarrow.parquet as pq

    from processing.data.emocue import load_emocue
    from processing.data.synth.corpus import generate_corpus, split_counts

    fractions = {"test": 0.5, "compositional": 0.5}
    wanted = split_counts(num_samples, fractions)
    files = {split: data_dir / "data" / f"{split}.parquet" for split in wanted}
    if not all(f.exists() and pq.read_metadata(f).num_rows == wanted[split] for split, f in files.items()):
        generate_corpus(data_dir, num_samples, seed=seed, split_fractions=fractions, num_workers=2, overwrite=True)
    out = {}
    for split in ("test", "compositional"):
        rows = [dict(row) for row in load_emocue(data_dir, split)]
        for row in rows:
            row["path"] = row["video"]
        out[split] = rows
    return out


def decode(records, processor) -> list[dict]:
    """The records' clips decoded as `xemogpt predict` decodes a dataset row."""
    from processing.inference.predict import decode_row

    return [decode_row(r, processor) for r in records]


def generate(model, processor, clips, *, batch_size=16, max_new_tokens=200) -> list[str]:
    """Greedy explanations of decoded clips (a clip without `frames` / `audio` gets a prompt without that medium),
    through `xemogpt predict`'s batched generation."""
    from processing.inference.predict import generate_batch

    generation = {"max_new_tokens": max_new_tokens, "do_sample": False, "pad_token_id": processor.tokenizer.pad_token_id}
    return [text for start in range(0, len(clips), batch_size)
            for text in generate_batch(model, processor, clips[start:start + batch_size], generation)]


# ---- baselines -------------------------------------------------------------------------------------------------


def prior_prediction(train_records: list[dict]) -> dict:
    """The most frequent value of every cue factor and the most frequent emotion in the training clips."""
    factors = [json.loads(r["factors"]) for r in train_records]
    values = {name: Counter(f[name] for f in factors).most_common(1)[0][0] for name in CUE_FACTORS}
    values["dynamics"] = "steady"
    prior = Factors(**values)
    return {"cues": canonical_cues(prior), "emotion": Counter(r["emotion"] for r in train_records).most_common(1)[0][0],
            "values": values}
