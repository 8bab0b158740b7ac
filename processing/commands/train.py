"""`xemogpt train STAGE --config RECIPE [flags]`: the training stages of XEmoGPT.

Stages: `align-video` (VECB alignment), `align-audio` (AECB alignment), `sft` (emotional instruction tuning with TRL's
SFTTrainer), `dpo` (preference tuning with TRL's DPOTrainer) and `grpo` (reinforcement learning with EmoCue-360
cue rewards, TRL's GRPOTrainer). Everything after the stage goes to that stage's
parser: a YAML recipe (`--config`) and any TRL / transformers flag (`--learning_rate`, `--use_peft`, `--lora_r`,
`--load_in_4bit`, `--dataset_name`, `--output_dir`, `--max_steps`, ...), command-line flags winning over the recipe.
"""

from __future__ import annotations

import argparse
import importlib

STAGES = {
    "align-video": ("processing.training.align", "video"),
    "align-audio": ("processing.training.align", "audio"),
    "sft": ("processing.training.sft", None),
    "dpo": ("processing.training.dpo", None),
    "grpo": ("processing.training.grpo", None),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a stage: align-video, align-audio, sft, dpo, grpo (TRL recipes)",
        description="Train one XEmoGPT stage from a recipe: `xemogpt train sft --config "
                    "examples/recipes/synth-tiny/sft.yaml`. Flags after the stage override the recipe; "
                    "`xemogpt train sft --help` lists them all.",
    )
    parser.add_argument("stage", choices=list(STAGES), help="which stage to train")
    parser.add_argument("stage_args", nargs=argparse.REMAINDER, help="--config RECIPE and any stage flag")
    parser.set_defaults(func=run)


def run(args) -> int:
    module_name, modality = STAGES[args.stage]
    module = importlib.import_module(module_name)  # imported here: `xemogpt --help` stays fast
    if modality is not None:
        return module.main(args.stage_args, modality) or 0
    return module.main(args.stage_args) or 0
