"""How well modality attribution (`xemogpt explain --attribute`) finds the input each cue truly comes from.

    python examples/scripts/measure_attribution.py [--model DIR] [--per-split 130] [--out FILE]

Held-out EmoCue-Synth clips (the test and compositional splits of the corpus `evaluate_demo_model.py` evaluates on,
MP4 -> load_clip -> processor, greedy) are attributed as the CLI does it (processing/inference/attribution.py: all inputs plus
one row without each input, batched). The truth is known: a visual cue is drawn in the video, an auditory cue is in
the audio; the face / voice / subtitle readings ("The face looks happy.", "The voice sounds sad.", "The subtitle is
negative.") come from the video / audio / subtitle; the emotion comes from the rule that made it
(processing/data/synth/rules.py): F1 forced smile -> the voice decides (audio), F2 sarcasm -> the subtitle, F3 the face
leads -> video, F4 the voice -> audio, F5 the words -> subtitle (F5 with neutral words: no input changes it; left
out of the share and counted apart).

Reported per split and overall: the share of stated cues of each kind whose attribution contains their true modality
("attributed"), whose attribution is exactly that modality ("only"), that depend on no single input ("none"), and the
same for the emotion per rule, and per canonical visual / auditory cue (stated at least 10 times). Writes one JSON file (default: the model folder's attribution.json), which the model
card (train_demo_model.py --card_only) reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "scripts"))

DEFAULT_MODEL = ROOT / "examples" / "models" / "xemogpt-synth-tiny"
RULE_MODALITY = {"F1": "audio", "F2": "subtitle", "F3": "video", "F4": "audio", "F5": "subtitle"}
READING_MODALITY = (("the face looks", "video"), ("the voice sounds", "audio"), ("the subtitle is", "subtitle"))


def true_modality(category: str, cue: str) -> str | None:
    """The input a stated cue comes from in EmoCue-Synth (None: a conclusion such as "The person feels X.")."""
    if category == "visual":
        return "video"
    if category == "auditory":
        return "audio"
    lowered = cue.lower()
    for prefix, modality in READING_MODALITY:
        if lowered.startswith(prefix):
            return modality
    return None


def emotion_truth(factors_json: str) -> tuple[str, str | None]:
    """(rule, the modality that rule makes the emotion depend on; None for F5 with neutral words)."""
    from processing.data.synth.factors import Factors
    from processing.data.synth.rules import derive_emotion

    reading = derive_emotion(Factors.from_json(factors_json))
    if reading.rule == "F5" and reading.emotion == "neutral":
        return "F5 (neutral words)", None
    return reading.rule, RULE_MODALITY[reading.rule]


class Tally:
    """Counts of stated items by kind: attributed to the true modality / only to it / to none."""

    def __init__(self):
        self.counts = defaultdict(Counter)

    def add(self, kind: str, truth: str | None, depends_on: list[str]):
        c = self.counts[kind]
        c["stated"] += 1
        if truth is None:
            c["none"] += not depends_on
            return
        c["attributed"] += truth in depends_on
        c["only"] += depends_on == [truth]
        c["none"] += not depends_on

    def report(self) -> dict:
        out = {}
        for kind, c in sorted(self.counts.items()):
            n = c["stated"]
            out[kind] = {"stated": n, **{f"{k}_share": round(c[k] / n, 4) if n else None
                                         for k in ("attributed", "only", "none")}}
        return out


def measure(model_dir: Path, records: dict[str, list[dict]], batch_clips: int, log) -> dict:
    import modeling_xemogpt  # noqa: F401
    from transformers import AutoModel, AutoProcessor

    from processing.inference.attribution import attribute_clips, cue_key
    from processing.inference.predict import decode_row

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    processor = AutoProcessor.from_pretrained(str(model_dir))
    generation = {"max_new_tokens": model.generation_config.max_new_tokens or 256, "do_sample": False,
                  "pad_token_id": processor.tokenizer.pad_token_id}
    report = {"splits": {}, "rows_per_generate_call": batch_clips * 4}
    overall_cues, overall_emotion, by_cue = Tally(), Tally(), Tally()
    for split, rows in records.items():
        cues_tally, emotion_tally = Tally(), Tally()
        correct_cues, correct_emotion = Tally(), Tally()
        for start in range(0, len(rows), batch_clips):
            batch = rows[start:start + batch_clips]
            clips = []
            for row in batch:
                clip = decode_row(row, processor)
                clip.pop("note", None)
                clips.append(clip)
            with torch.no_grad():
                results = attribute_clips(model, processor, clips, generation)
            for row, result in zip(batch, results):
                truth_cues = {cue_key(c) for category in row["cues"].values() for c in category}
                for cue in result.cues:
                    truth = true_modality(cue["category"], cue["cue"])
                    if truth is None:
                        continue
                    kind = {"visual": "visual cues", "auditory": "auditory cues"}.get(
                        cue["category"], f"{truth} readings")
                    for tally in (cues_tally, overall_cues):
                        tally.add(kind, truth, cue["depends_on"])
                    if cue["category"] in ("visual", "auditory"):
                        by_cue.add(cue["cue"], truth, cue["depends_on"])
                    if cue_key(cue["cue"]) in truth_cues:
                        correct_cues.add(kind, truth, cue["depends_on"])
                rule, modality = emotion_truth(row["factors"])
                for tally in (emotion_tally, overall_emotion):
                    tally.add(f"emotion, rule {rule}", modality, result.emotion_depends_on)
                    if modality is not None:
                        tally.add("emotion, rules F1-F5", modality, result.emotion_depends_on)
                if result.emotion == row["emotion"]:
                    correct_emotion.add(f"emotion, rule {rule}", modality, result.emotion_depends_on)
                    if modality is not None:
                        correct_emotion.add("emotion, rules F1-F5", modality, result.emotion_depends_on)
            log(f"{split}: {min(start + batch_clips, len(rows))}/{len(rows)} clips")
        report["splits"][split] = {
            "clips": len(rows),
            "cues": cues_tally.report(),
            "emotion": emotion_tally.report(),
            "true_cues_only": correct_cues.report(),
            "correct_emotions_only": correct_emotion.report(),
        }
    report["overall"] = {"clips": sum(len(r) for r in records.values()), "cues": overall_cues.report(),
                         "emotion": overall_emotion.report()}
    # per canonical visual / auditory cue: which ones the model keeps stating without their input (a default value
    # such as "The voice is steady.", or one it infers from another input)
    report["by_cue"] = {cue: entry for cue, entry in by_cue.report().items() if entry["stated"] >= 10}
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--data_dir", default=None,
                        help="evaluation corpus (default /tmp/xemogpt-synth-eval-s<seed>-<num-samples>, generated when "
                             "missing: the corpus evaluate_demo_model.py uses)")
    parser.add_argument("--num-samples", type=int, default=1000, help="clips in the evaluation corpus (both splits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-split", type=int, default=130, help="clips attributed per split (first N)")
    parser.add_argument("--batch-clips", type=int, default=8, help="clips per generate call (4 rows each)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON output (default MODEL/attribution.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - t0:6.0f}s] {message}", file=sys.stderr, flush=True)

    from demo_model_scores import eval_records

    data_dir = Path(args.data_dir or f"/tmp/xemogpt-synth-eval-s{args.seed}-{args.num_samples}")
    records = {split: rows[: args.per_split] for split, rows in eval_records(data_dir, args.num_samples, args.seed).items()}
    report = {"model": Path(args.model).name, "corpus": {"seed": args.seed, "num_samples": args.num_samples,
                                                         "splits": {s: len(r) for s, r in records.items()}},
              "method": "processing/inference/attribution.py: all inputs + one row without each input, one batched greedy "
                        "generate call; a cue depends on a modality when the explanation without it no longer states "
                        "it (canonical cues from EmoCue-360's rule parser)"}
    report.update(measure(Path(args.model), records, args.batch_clips, log))
    report["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out) if args.out else Path(args.model) / "attribution.json"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.replace(out)
    print(json.dumps(report["overall"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
