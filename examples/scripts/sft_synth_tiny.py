"""Tiny SFT on EmoCue-Synth, before vs after: held-out loss, EmoCue-360 F1 and emotion accuracy of generated
explanations. Runs the synth-tiny recipe (examples/recipes/synth-tiny/sft.yaml) through the same library calls as
`xemogpt train sft`, with frozen-encoder features cached once.

    python examples/scripts/sft_synth_tiny.py                     # makes data/emocue-synth (300 clips) if missing
    python examples/scripts/sft_synth_tiny.py --data DIR --out runs/synth-tiny -- --num_train_epochs 5

Prints one JSON object as its last line. The trained model is saved to OUT/sft (OUT/base is the untrained start).
`prior_only` scores one training explanation (of the most frequent emotion) written for every clip: what knowing
the explanation format and the label prior alone gets, without looking at the clip.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "recipes" / "synth-tiny" / "sft.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/emocue-synth", help="EmoCue-Synth folder (generated if missing)")
    parser.add_argument("--num-samples", type=int, default=300, help="clips to generate when --data is missing")
    parser.add_argument("--out", default="runs/synth-tiny", help="run folder (base/ = fresh model, sft/ = trained)")
    parser.add_argument("--eval-clips", type=int, default=30, help="held-out test clips to generate explanations for")
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)")
    parser.add_argument("recipe_args", nargs=argparse.REMAINDER, help="after --: flags overriding the recipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from trl import SFTConfig

    from processing.data.emocue import load_emocue
    from processing.training.sft import explanation_scores, generate_explanations, trainer_from_args
    from processing.training.setup import parse_args

    started = time.perf_counter()
    if not Path(args.data).exists():
        from processing.data.synth.corpus import generate_corpus

        generate_corpus(args.data, args.num_samples, seed=0)
    synth_seconds = time.perf_counter() - started

    extra = [a for a in args.recipe_args if a != "--"]
    recipe = parse_args(["--config", str(RECIPE), "--dataset_name", args.data, "--model_name_or_path",
                         f"{args.out}/base", "--output_dir", f"{args.out}/sft", "--cache_features", "true",
                         "--model_config", str(RECIPE.with_name("model_config.json")), "--max_length", "512", *extra],
                        SFTConfig)
    trainer = trainer_from_args(*recipe)
    test = load_emocue(args.data, split="test")
    rows = list(test.select(range(min(args.eval_clips, len(test)))))

    def measure() -> tuple[dict, list[str]]:
        loss = trainer.evaluate()["eval_loss"]
        texts = generate_explanations(trainer.model, trainer.processing_class, rows, collator=trainer.data_collator,
                                      max_new_tokens=args.max_new_tokens)
        return {"heldout_loss": loss, **explanation_scores(rows, texts)}, texts

    # prior-only reference point: one training explanation of the most frequent emotion, written for every clip
    majority = Counter(trainer.train_dataset["emotion"]).most_common(1)[0][0]
    constant = next(r["explanation"] for r in trainer.train_dataset if r["emotion"] == majority)
    prior_only = explanation_scores(rows, [constant] * len(rows))

    prepared = time.perf_counter()
    before, _ = measure()
    train_start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - train_start
    after, texts = measure()
    trainer.save_model(trainer.args.output_dir)
    print(json.dumps({
        "before": before, "after": after, "prior_only": prior_only, "train_steps": trainer.state.global_step,
        "train_rows": len(trainer.train_dataset), "eval_clips": len(rows),
        "seconds": {"synth": round(synth_seconds, 1), "prepare_and_cache": round(prepared - started - synth_seconds, 1),
                    "train": round(train_seconds, 1), "total": round(time.perf_counter() - started, 1)},
        "example": {"reference": rows[0]["explanation"], "generated": texts[0]},
    }))


if __name__ == "__main__":
    main()
