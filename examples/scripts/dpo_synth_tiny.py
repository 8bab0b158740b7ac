"""Tiny DPO on EmoCue-Synth after synth-tiny SFT, before vs after: held-out preference accuracy (policy log-prob of
the chosen explanation > the rejected one) and reward margin against the reference model. Runs the synth-tiny recipe
(examples/recipes/synth-tiny/dpo.yaml) through the same library calls as `xemogpt train dpo`.

    python examples/scripts/sft_synth_tiny.py          # first: the SFT model at runs/synth-tiny/sft
    python examples/scripts/dpo_synth_tiny.py [--data DIR --out runs/synth-tiny -- --beta 0.2]

Prints one JSON object as its last line; the DPO model is saved to OUT/dpo.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "recipes" / "synth-tiny" / "dpo.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/emocue-synth", help="the EmoCue-Synth folder SFT was trained on")
    parser.add_argument("--out", default="runs/synth-tiny", help="run folder: reads sft/, writes dpo/")
    parser.add_argument("--eval-pairs", type=int, default=30, help="held-out test pairs to score")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)")
    parser.add_argument("recipe_args", nargs=argparse.REMAINDER, help="after --: flags overriding the recipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from trl import DPOConfig

    from processing.data.emocue import load_emocue
    from processing.training.dpo import preference_pairs, preference_scores, trainer_from_args
    from processing.training.setup import parse_args

    started = time.perf_counter()
    extra = [a for a in args.recipe_args if a != "--"]
    recipe = parse_args(["--config", str(RECIPE), "--dataset_name", args.data, "--model_name_or_path",
                         f"{args.out}/sft", "--output_dir", f"{args.out}/dpo", "--cache_features", "true",
                         "--max_length", "512", *extra], DPOConfig)
    trainer = trainer_from_args(*recipe)
    test = load_emocue(args.data, split="test")
    pairs = list(preference_pairs(test.select(range(min(args.eval_pairs, len(test)))), recipe[-1]))

    def measure() -> dict:
        return preference_scores(trainer.model, trainer.data_collator, pairs, ref_model=trainer.ref_model,
                                 beta=trainer.beta)

    before = measure()
    train_start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - train_start
    after = measure()
    trainer.save_model(trainer.args.output_dir)
    kinds = sorted({p["rejected_kind"] for p in pairs})
    print(json.dumps({"before": before, "after": after, "train_steps": trainer.state.global_step,
                      "train_pairs": len(trainer.train_dataset), "rejected_kinds": kinds,
                      "seconds": {"train": round(train_seconds, 1), "total": round(time.perf_counter() - started, 1)}}))


if __name__ == "__main__":
    main()
