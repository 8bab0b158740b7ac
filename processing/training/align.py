"""Stages 1-2, bridge alignment: `xemogpt train align-video|align-audio --config RECIPE [--key value ...]`.

    xemogpt train align-video --config examples/recipes/synth-tiny/align_video.yaml --max_steps 100
    accelerate launch -m processing.cli train align-audio --config examples/recipes/xemogpt-4b/align_audio.yaml

One run: parse the recipe (flat YAML; any key can be overridden as `--key value`), load the frozen encoder of an
XEmoGPT folder (built fresh from `--model_config` when the folder does not exist yet, as the SFT stage does), cache
its outputs and the caption embeddings next to the dataset (once; resumable), train `XEmoGPTForCueAlignment` with
`transformers.Trainer` (checkpoints, `--resume_from_checkpoint true`), evaluate held-out retrieval (and frame-order
accuracy for video), and save into `output_dir`: the base model with the aligned bridge copied in (a complete XEmoGPT
folder, the next stage's `model_name_or_path`), `bridges.safetensors` (the bridge alone, for
`load_aligned_bridges`), `alignment/` (bridge + heads) and `alignment_results.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from processing.errors import XEmoGPTError
from .align_trainer import (AlignmentCollator, build_alignment_model, evaluate_alignment, held_out_split, load_split,
                            make_trainer, prepare_split)
from .optim import end_training, resume_checkpoint

STAGES = ("video", "audio")
RESULTS_FILE = "alignment_results.json"


@dataclass
class AlignmentArguments:
    """The alignment recipe's own keys (every `transformers.TrainingArguments` key is accepted too)."""

    # model
    model_name_or_path: str | None = field(default=None, metadata={
        "help": "XEmoGPT folder whose frozen encoders (and config, processor) are used; with --model_config and no "
                "folder there yet, a fresh model is built and saved there first (the SFT stage then starts from it)"})
    model_config: str | None = field(default=None, metadata={
        "help": "JSON file of XEmoGPTConfig arguments for that fresh model (random encoders)"})
    tokenizer_vocab_size: int = field(default=1024, metadata={"help": "vocabulary of the fresh model's BPE tokenizer"})
    text_encoder_name_or_path: str | None = field(default=None, metadata={
        "help": "frozen caption encoder: a CLIP checkpoint (its text tower, the paper's stage 1) or any "
                "sentence-transformers model (LaBSE in the paper's stage 2); default: all-MiniLM-L6-v2, offline"})
    # alignment
    shared_embed_dim: int = field(default=768, metadata={"help": "contrastive width (768 published)"})
    temperature: float = field(default=0.07, metadata={"help": "initial contrastive temperature"})
    learnable_temperature: bool = field(default=True, metadata={"help": "learn the temperature"})
    contrastive_weight: float = field(default=1.0, metadata={"help": "weight of the media-caption InfoNCE loss"})
    temporal_weight: float = field(default=1.0, metadata={"help": "video: weight of frame-order discrimination"})
    reconstruction_weight: float = field(default=1.0, metadata={"help": "video: weight of masked frame modelling"})
    mask_ratio: float = field(default=0.5, metadata={"help": "video: share of frame vectors zeroed"})
    position_embedding_lr_scale: float = field(default=1.0, metadata={
        "help": "video: learning-rate multiplier for the VECB position table (no weight decay). The table starts "
                "at std 0.02, tiny next to frame vectors of norm ~10, and the order task waits for it to grow"})
    temporal_pooling: str = field(default="attention", metadata={
        "help": "video: what the order head reads: 'attention' (the attention-pooled clip vector, as the paper pools "
                "every head) or 'max' (the maximum over time of the VECB outputs: one jump between two frames is "
                "what gives a shuffle away, and an average dilutes it)"})
    vecb_attention_window: int | None = field(default=None, metadata={
        "help": "video: VECB attention band (0 = every frame sees every frame, as published; w > 0: frames i-w..i+w). "
                "Default: the base model's. It is a model setting: the saved model carries it"})
    shuffle_after_positions: bool = field(default=False, metadata={
        "help": "video: reproduce the published bug (shuffle after the position table; the order task is then "
                "unlearnable). For ablations only"})
    # data
    dataset_name: str | None = field(default=None, metadata={"help": "EmoCue dataset folder (e.g. `xemogpt synth`)"})
    dataset_train_split: str = field(default="train", metadata={"help": "training split"})
    dataset_test_split: str | None = field(default="validation", metadata={
        "help": "held-out split for the final retrieval and order evaluation (TRL's name; '' = none). A dataset "
                "without it trains without that evaluation, with a warning"})
    dataset_eval_split: str | None = field(default=None, metadata={
        "help": "former name of --dataset_test_split (still read)"})
    media_root: str | None = field(default=None, metadata={"help": "folder that relative media paths resolve against"})
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training rows"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N held-out rows"})
    # feature cache
    use_feature_cache: bool = field(default=True, metadata={
        "help": "train on cached frozen-encoder outputs (built next to the dataset on first use); off: decode and "
                "encode every clip at every step"})
    feature_cache: str | None = field(default=None, metadata={
        "help": "folder holding the caches (default <dataset>/features); a cache there built with other encoders "
                "is refused"})
    cache_batch_size: int = field(default=16, metadata={"help": "clips per encoder batch while caching"})
    cache_shard_size: int = field(default=256, metadata={"help": "clips per resumable cache shard"})
    cache_num_proc: int | None = field(default=None, metadata={"help": "processes for caching (datasets.map num_proc)"})
    media_backend: str = field(default="auto", metadata={"help": "frame sampling method (processing.media)"})
    eval_batch_size: int = field(default=256, metadata={"help": "clips per batch in the final evaluation"})
    save_full_model: bool = field(default=True, metadata={
        "help": "also save the base model with the aligned bridge copied in (a complete XEmoGPT folder: the next "
                "stage's model_name_or_path); off: only bridges.safetensors and the alignment model"})
    num_threads: int | None = field(default=None, metadata={
        "help": "torch CPU threads (1 is fastest for tiny models on a busy machine); default: torch's"})


# ---- recipe parsing ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]):
    """(AlignmentArguments, TrainingArguments) from `--config RECIPE` and command-line overrides."""
    from transformers import TrainingArguments
    from trl import TrlParser

    argv = list(argv)
    if "--config" in argv:
        recipe = argv[argv.index("--config") + 1] if argv.index("--config") + 1 < len(argv) else None
        if recipe is None or not Path(recipe).is_file():
            raise XEmoGPTError(f"--config {recipe}: no such recipe file")
    parser = TrlParser((AlignmentArguments, TrainingArguments))
    try:
        align_args, training_args = parser.parse_args_and_config(argv)
    except ValueError as exc:  # unknown recipe keys, bad values
        raise XEmoGPTError(str(exc).splitlines()[0]) from None
    if align_args.dataset_eval_split is not None:
        align_args.dataset_test_split, align_args.dataset_eval_split = align_args.dataset_eval_split, None
    training_args.remove_unused_columns = False  # the collator needs `id` and the caption text
    return align_args, training_args


# ---- the stage ------------------------------------------------------------------------------------------------


def prepare_base_model(args: AlignmentArguments, train_records=None) -> Path:
    """The XEmoGPT folder the encoders come from (built fresh from `model_config` when it does not exist yet)."""
    if not args.model_name_or_path:
        raise XEmoGPTError("model_name_or_path is required: an XEmoGPT folder (or a new path with --model_config)")
    path = Path(args.model_name_or_path)
    if not path.exists():
        if not args.model_config:
            raise XEmoGPTError(f"{path}: no such model folder (give --model_config to build a fresh model there)")
        from .setup import corpus_texts, save_fresh_model

        texts = corpus_texts(train_records) if train_records is not None else []
        save_fresh_model(path, args.model_config, texts, args.tokenizer_vocab_size)
    if not (path / "config.json").is_file():
        raise XEmoGPTError(f"{path} is not an XEmoGPT model folder (no config.json)")
    return path


def save_outputs(model, output_dir, results: dict, settings: dict, base: Path | None = None) -> None:
    """Write the stage's outputs into `output_dir` (each file moved into place when complete):

    * with `base`: the base XEmoGPT model with the aligned bridge copied in (config, weights, processor, remote code):
      a complete model folder, the next stage's `model_name_or_path`;
    * `bridges.safetensors`: the aligned bridge alone, under the generation model's names (`load_aligned_bridges`);
    * `alignment/`: the alignment model (bridge + pooling + heads), `alignment_results.json`: held-out metrics.
    """
    from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration, XEmoGPTProcessor
    from modeling_xemogpt.alignment_xemogpt import load_aligned_bridges

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = output_dir / ".final.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    if base is not None:
        config = XEmoGPTConfig.from_pretrained(base)
        config.vecb_attention_window = model.config.vecb_attention_window  # a recipe may set the bridge's band
        full = XEmoGPTForConditionalGeneration.from_pretrained(base, config=config)
        try:
            load_aligned_bridges(full, model)
        except ValueError as exc:
            raise XEmoGPTError(f"{base}: {exc}") from None
        full.save_pretrained(staging)
        XEmoGPTProcessor.from_pretrained(base).save_pretrained(staging)
        for code in Path(base).glob("*.py"):  # remote code of a Hub-ready base folder
            shutil.copy2(code, staging / code.name)
    model.export_bridges(staging)
    model.save_pretrained(staging / "alignment")
    (staging / RESULTS_FILE).write_text(json.dumps({"results": results, "settings": settings}, indent=2) + "\n")
    for item in staging.iterdir():
        target = output_dir / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)
    staging.rmdir()


def train_alignment(args: AlignmentArguments, training_args, stage: str, callbacks=()) -> dict:
    """The whole stage (see the module docstring). Returns {"output_dir", "results", "train"}."""
    from transformers import set_seed

    from .feature_cache import load_text_encoder

    if stage not in STAGES:
        raise XEmoGPTError(f"unknown alignment stage {stage!r}: use one of {STAGES}")
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    if not args.dataset_name:
        raise XEmoGPTError("dataset_name is required: an EmoCue folder (e.g. made by `xemogpt synth`)")
    train_records = load_split(args, args.dataset_train_split, args.max_train_samples)
    eval_records = held_out_split(args)
    base = prepare_base_model(args, train_records)
    text_encoder = load_text_encoder(args.text_encoder_name_or_path)
    set_seed(training_args.seed)  # the fresh bridge and heads: same seed, same initial weights
    model, processor, encoders = build_alignment_model(args, stage, base, text_encoder.dim,
                                                       with_encoders=not args.use_feature_cache)
    train_data = prepare_split(args, stage, args.dataset_train_split, train_records, encoders, processor, text_encoder,
                               args.use_feature_cache)
    eval_data = (prepare_split(args, stage, args.dataset_test_split, eval_records, encoders, processor, text_encoder,
                               args.use_feature_cache) if eval_records is not None else None)
    del text_encoder
    if args.use_feature_cache:
        train_data = train_data.with_format("numpy")
        eval_data = eval_data.with_format("numpy") if eval_data is not None else None
    collator = AlignmentCollator(stage, processor, args.media_backend)
    trainer = make_trainer(model, training_args, train_data, collator, args.position_embedding_lr_scale)
    for callback in callbacks:
        trainer.add_callback(callback)
    start = time.perf_counter()
    train_output = trainer.train(resume_from_checkpoint=resume_checkpoint(training_args))
    train_seconds = time.perf_counter() - start
    results = {}
    if eval_data is not None and trainer.is_world_process_zero():
        results = evaluate_alignment(model, eval_data, collator, batch_size=args.eval_batch_size)
    if trainer.is_world_process_zero():
        settings = {"stage": stage, "alignment": asdict(args), "global_step": trainer.state.global_step,
                    "train_seconds": round(train_seconds, 1), "train_loss": train_output.training_loss}
        save_outputs(model, training_args.output_dir, results, settings, base if args.save_full_model else None)
    end_training(trainer)
    return {"output_dir": training_args.output_dir, "results": results, "train_seconds": train_seconds,
            "global_step": trainer.state.global_step}


def main(argv: list[str], stage: str) -> int:
    """`xemogpt train align-video|align-audio` (stage "video" / "audio"). Returns the exit code."""
    args, training_args = parse_args(argv)
    summary = train_alignment(args, training_args, stage)
    results = summary["results"]
    if results:
        shown = ", ".join(f"{k} {v}" for k, v in results.items() if k.endswith(("_r1", "accuracy", "chance_r1")))
        print(f"held-out {args.dataset_test_split}: {shown}")
    print(f"aligned {stage} bridge ({summary['global_step']} steps, {summary['train_seconds']:.0f} s) saved to "
          f"{summary['output_dir']} (bridges.safetensors loads with load_aligned_bridges)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[2:], sys.argv[1]))
