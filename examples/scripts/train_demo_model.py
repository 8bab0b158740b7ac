"""Train the bundled demo model `xemogpt-synth-tiny` from scratch on EmoCue-Synth (CPU, one command).

    python examples/scripts/train_demo_model.py --output_dir examples/models/xemogpt-synth-tiny
    (= `make demo-model`)

Stages (each stage after pretraining is the project's own stage code, driven by its synth-tiny recipe with
overrides for this budget; every stage has a wall-clock cap):

  0. EmoCue-Synth corpus written to disk (`generate_corpus`: MP4 = H.264 + AAC), byte-level BPE on its texts;
  1. encoder pretraining on static labels (tiny ResNet on per-frame labels, tiny Whisper-style encoder on voice
     labels), on frames / audio decoded from the corpus MP4s + fresh renders; probes on the validation clips; frozen;
  2. stage 1: `xemogpt train align-video` (examples/recipes/synth-tiny/align_video.yaml) — VECB alignment, which also
     builds the frozen-encoder feature cache (processing/training/feature_cache.py) under <work_dir>/data/features;
  3. stage 2: `xemogpt train align-audio` (align_audio.yaml) — AECB alignment;
  4. SFT: `xemogpt train sft` (sft.yaml) with TRL's SFTTrainer on the cached features;
  5. DPO: `xemogpt train dpo` (dpo.yaml) with TRL's DPOTrainer against the corpus' `rejected` explanations.

Ablations (examples/scripts/evaluate_demo_model.py --ablations) rerun stages 2-5 from the same frozen encoders with
`--variant no_vecb|no_vecb_shuffled|no_aecb|subtitle_only` (no_vecb_shuffled: no VECB and the frame tokens reach
the LLM in a random order, `video_token_order="shuffled"`: no temporal modelling at all).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # demo_model.py

import demo_model as dm  # noqa: E402  (examples/scripts/demo_model.py)
import demo_model_card  # noqa: E402  (examples/scripts/demo_model_card.py)
from processing.tokenizers import set_generation_tokens  # noqa: E402

RECIPES = ROOT / "examples" / "recipes" / "synth-tiny"
VARIANTS = ("full", "no_vecb", "no_vecb_shuffled", "no_aecb", "subtitle_only")
NO_VECB = ("no_vecb", "no_vecb_shuffled")  # the variants without VECB layers and position table
def recipe_argv(recipe: str, **overrides) -> list[str]:
    argv = ["--config", str(RECIPES / recipe)]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    return argv


# `--stage1`: overrides of the synth-tiny align-video recipe. "recipe": none (a +-1 frame attention band in the VECB,
# max-pooled order head: the shipped model); "full_attention": the previous shipped model's stage 1 (2026-12-02).
STAGE1_OVERRIDES = {
    "recipe": {},
    "full_attention": dict(vecb_attention_window=0, temporal_pooling="attention", learning_rate=1e-3,
                           position_embedding_lr_scale=100),
}


def run_alignment(stage, base, data, out, seconds, log, threads, max_steps, overrides=None):
    from processing.training import align

    args, targs = align.parse_args(recipe_argv(
        f"align_{stage}.yaml", model_name_or_path=base, dataset_name=data, dataset_test_split="validation",
        output_dir=out, max_steps=100000, lr_scheduler_type="constant_with_warmup", warmup_steps=20,
        save_strategy="no", logging_steps=100, num_threads=threads, **(overrides or {}),
    ))
    summary = align.train_alignment(args, targs, stage, callbacks=[dm.step_budget_callback(max_steps, seconds, log=log, name=f"align-{stage}")])
    log(f"align-{stage}: {summary['global_step']} steps, held-out: "
        + json.dumps({k: round(v, 3) for k, v in summary["results"].items() if isinstance(v, float)}))
    return summary


def run_trl(kind, model_path, data, out, seconds, log, max_steps, frozen=(), **overrides):
    """SFT or DPO with the project's trainer built from the synth-tiny recipe + overrides, on cached features.
    `frozen`: parameter names kept as they are (the no-VECB ablation's all-zero position table)."""
    from processing.training import dpo, sft

    if kind == "sft":
        from trl import SFTConfig as Config
        module = sft
    else:
        from trl import DPOConfig as Config
        module = dpo
    no_media = "modalities" in overrides and overrides.pop("modalities") is None
    overrides = {"cache_features": "true", "max_length": 512, **overrides}  # what the recipes leave to TRL's flags
    argv = recipe_argv(f"{kind}.yaml", model_name_or_path=model_path, dataset_name=data, output_dir=out,
                       max_steps=100000, lr_scheduler_type="constant_with_warmup", eval_strategy="no",
                       logging_steps=50, save_strategy="no", **overrides)
    parsed = module.parse_args(argv, Config)
    if no_media:  # the subtitle-only ablation: prompts carry no media markers
        parsed[3].modalities = []
    trainer = module.trainer_from_args(*parsed)
    for name, param in trainer.model.named_parameters():
        if name in frozen:
            param.requires_grad_(False)
            param.data.zero_()
    trainer.add_callback(dm.step_budget_callback(max_steps, seconds, log=log, name=kind))
    result = trainer.train()
    trainer.save_model(out)
    log(f"{kind}: {trainer.state.global_step} steps, loss {result.training_loss:.3f}")
    return trainer.state.global_step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="examples/models/xemogpt-synth-tiny")
    parser.add_argument("--work_dir", default="runs/demo-model", help="corpus, feature cache and stage outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 on a quiet 2-core machine: 1.8x faster steps; 1 when other jobs share the cores)")
    parser.add_argument("--variant", choices=VARIANTS, default="full",
                        help="ablation: reuse <work_dir>'s corpus and frozen encoders, rerun stages 2-5 without "
                             "VECB / AECB / media")
    parser.add_argument("--num_train_clips", type=int, default=None, help="EmoCue-Synth training clips (default: DemoSettings)")
    parser.add_argument("--sft_steps", type=int, default=None)
    parser.add_argument("--vision_steps", type=int, default=None)
    parser.add_argument("--audio_steps", type=int, default=None)
    parser.add_argument("--reuse_corpus", action="store_true",
                        help="keep <work_dir>/data when it holds the corpus already (it is deterministic given the seed)")
    parser.add_argument("--match_steps", default=None,
                        help="JSON {stage: steps} (e.g. the full run's training_log.json 'steps'): run each stage for "
                             "that many optimizer steps, so an ablation gets exactly the updates the full model got")
    parser.add_argument("--stage1", choices=tuple(STAGE1_OVERRIDES), default="recipe",
                        help="stage-1 settings: the synth-tiny recipe's (+-1 frame attention band in the VECB, "
                             "max-pooled order head; the shipped model) or the previous model's full-attention VECB")
    parser.add_argument("--quick", action="store_true", help="a few seconds per stage (smoke test only)")
    parser.add_argument("--card_only", action="store_true",
                        help="train nothing: rewrite <output_dir>/README.md from hub_cards/demo_model_card_template.md, "
                             "its training_log.json and its result files")
    args = parser.parse_args(argv)
    if args.card_only:
        return demo_model_card.write_card(Path(args.output_dir))
    torch.manual_seed(args.seed)
    settings = dm.DemoSettings(seed=args.seed)
    if args.quick:
        settings = dm.DemoSettings(seed=args.seed, num_train_clips=48, num_validation_clips=8, vision_steps=30,
                                   vision_bank_frames=600, audio_bank_voices=40, audio_steps=10, align_video_steps=10,
                                   align_audio_steps=5, sft_steps=20, dpo_steps=5)
    for name in ("num_train_clips", "sft_steps", "vision_steps", "audio_steps"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    work = Path(args.work_dir).absolute()
    data, base = work / "data", work / "base"
    t0 = time.perf_counter()
    timings, info = {}, {}

    def log(message):
        print(f"[{time.perf_counter() - t0:6.0f}s] {message}", flush=True)

    def mark(name, since):
        timings[name] = time.perf_counter() - since
        return time.perf_counter()

    from modeling_xemogpt import XEmoGPTForConditionalGeneration, XEmoGPTProcessor
    from modeling_xemogpt.hub import save_pretrained_with_code

    t = time.perf_counter()
    if args.variant == "full":
        from processing.data.emocue import load_emocue
        from processing.data.synth import generate_corpus
        from processing.tokenizers import build_bpe_tokenizer

        torch.set_num_threads(1)  # forking the decode / render workers under a multi-thread OpenMP pool can hang them
        total = settings.num_train_clips + settings.num_validation_clips
        reuse = args.reuse_corpus and len(list((data / "media").rglob("*.mp4"))) == total
        for item in (work.iterdir() if work.is_dir() else []):
            if not (reuse and item.name == "data"):
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        if reuse:
            shutil.rmtree(data / "features", ignore_errors=True)
            log(f"corpus: reusing {data} ({total} clips)")
        else:
            work.mkdir(parents=True, exist_ok=True)
            report = generate_corpus(data, total, seed=settings.seed, size=settings.frame_size, num_workers=2,
                                     hub_layout=False,  # read by xemogpt train only
                                     split_fractions={"train": settings.num_train_clips / total,
                                                      "validation": settings.num_validation_clips / total})
            log(f"corpus: {report.counts} clips in {report.seconds:.0f}s")
        t = mark("corpus", t)
        tokenizer = build_bpe_tokenizer(dm.corpus_texts(settings.num_train_clips, settings.seed),
                                        vocab_size=settings.vocab_size)
        config = dm.build_config(settings, tokenizer)
        model = XEmoGPTForConditionalGeneration(config).eval()
        processor = XEmoGPTProcessor.for_config(config, tokenizer)
        timings["parameters"] = sum(p.numel() for p in model.parameters())
        log(f"tokenizer {len(tokenizer)} tokens; model {timings['parameters'] / 1e6:.2f} M parameters")
        t = mark("tokenizer", t)

        train_records = load_emocue(str(data), split="train")
        val_records = load_emocue(str(data), split="validation")
        clip_pixels, clip_frame_labels, mel, voice_labels = dm.decode_corpus(train_records, data, processor, settings)
        pixels = clip_pixels.flatten(0, 1).half()
        frame_labels = [lab for labs in clip_frame_labels for lab in labs]
        val_clip_pixels, val_labels, val_mel, val_voice_labels = dm.decode_corpus(val_records, data, processor, settings)
        val_pixels = val_clip_pixels.flatten(0, 1)
        val_frame_labels = [lab for labs in val_labels for lab in labs]
        log(f"decoded {len(frame_labels)} training frames and {len(voice_labels)} voices from the MP4s")
        t = mark("decode", t)

        bank = dm.render_frame_bank(settings.seed, settings.vision_bank_frames, settings.frame_size, settings.image_size)
        voice_bank = dm.render_voice_bank(processor, settings.seed, settings.audio_bank_voices, settings.max_audio_seconds)
        log(f"rendered {len(bank[1])} fresh frames and {len(voice_bank[1])} fresh voices for encoder pretraining")
        torch.set_num_threads(args.threads)  # no more forks from here on
        steps, vheads = dm.pretrain_vision(model, bank, pixels, frame_labels, settings, log)
        del bank
        info["probes"] = {"vision": {k: round(v, 3) for k, v in dm.probe_vision(model, vheads, val_pixels, val_frame_labels).items()}}
        log(f"vision pretraining: {steps} steps; held-out {info['probes']['vision']}")
        t = mark("vision_pretraining", t)
        del pixels
        steps, aheads = dm.pretrain_audio(model, voice_bank, mel, voice_labels, settings, log)
        del voice_bank
        info["probes"]["audio"] = {k: round(v, 3) for k, v in dm.probe_audio(model, aheads, val_mel, val_voice_labels).items()}
        log(f"audio pretraining: {steps} steps; held-out {info['probes']['audio']}")
        t = mark("audio_pretraining", t)
        dm.prefill_feature_cache(model, processor, data, "train", train_records, clip_pixels, mel)
        dm.prefill_feature_cache(model, processor, data, "validation", val_records, val_clip_pixels, val_mel)
        log("feature cache filled")
        t = mark("feature_cache", t)
        del mel, clip_pixels
        set_generation_tokens(model, tokenizer)  # pad, and stop at <|im_end|> (the text config's eos)
        model.generation_config.max_new_tokens = 200
        model.generation_config.do_sample = False
        save_pretrained_with_code(model, processor, base)
        (work / "pretraining.json").write_text(json.dumps({"probes": info["probes"], "parameters": timings["parameters"]}))
    else:
        info = json.loads((work / "pretraining.json").read_text())
        timings["parameters"] = info["parameters"]
        variant_base = work / f"base-{args.variant}"
        model = XEmoGPTForConditionalGeneration.from_pretrained(base)
        processor = XEmoGPTProcessor.from_pretrained(base)
        if args.variant in NO_VECB:  # no position table, no bridge layers: frame vectors -> projector
            model.config.vecb_num_layers = 0
            if args.variant == "no_vecb_shuffled":  # ... and the frame tokens in a random order every forward pass
                model.config.video_token_order = "shuffled"
            fresh = XEmoGPTForConditionalGeneration(model.config)
            fresh.load_state_dict(model.state_dict(), strict=False)
            fresh.model.video_bridge.position_embedding.data.zero_()
            model = fresh
        elif args.variant == "no_aecb":
            model.config.aecb_num_layers = 0
            fresh = XEmoGPTForConditionalGeneration(model.config)
            fresh.load_state_dict(model.state_dict(), strict=False)
            model = fresh
        model.generation_config = XEmoGPTForConditionalGeneration.from_pretrained(base).generation_config
        save_pretrained_with_code(model, processor, variant_base)
        base = variant_base
    torch.set_num_threads(args.threads)

    steps = {}
    match = json.loads(args.match_steps) if args.match_steps else {}
    for stage, steps_taken in match.items():  # the wall-clock safety stops grow with the step budget
        setattr(settings, f"{stage}_seconds", getattr(settings, f"{stage}_seconds") * max(1.0, steps_taken / getattr(settings, f"{stage}_steps")))
        setattr(settings, f"{stage}_steps", steps_taken)
    suffix = "" if args.variant == "full" else f"-{args.variant}"
    modalities = "" if args.variant == "subtitle_only" else "video,audio"
    current = base
    if args.variant not in ("subtitle_only", *NO_VECB):  # stage 1 aligns the VECB: nothing to align without it
        steps["align_video"] = run_alignment("video", current, data, work / f"align-video{suffix}", settings.align_video_seconds,
                                             log, args.threads, settings.align_video_steps,
                                             STAGE1_OVERRIDES[args.stage1])["global_step"]
        current = work / f"align-video{suffix}"
        t = mark("stage1_align_video", t)
    if args.variant not in ("subtitle_only", "no_aecb"):  # stage 2 aligns the AECB
        steps["align_audio"] = run_alignment("audio", current, data, work / f"align-audio{suffix}", settings.align_audio_seconds,
                                             log, args.threads, settings.align_audio_steps)["global_step"]
        current = work / f"align-audio{suffix}"
        t = mark("stage2_align_audio", t)
    extra = {} if modalities else {"modalities": None, "cache_features": "false"}
    frozen = ("model.video_bridge.position_embedding",) if args.variant in NO_VECB else ()
    steps["sft"] = run_trl("sft", current, data, work / f"sft{suffix}", settings.sft_seconds, log, settings.sft_steps,
            frozen=frozen,
            per_device_train_batch_size=settings.sft_batch_size, learning_rate=settings.sft_learning_rate,
            bridge_learning_rate=settings.bridge_learning_rate, warmup_steps=20, **extra)
    t = mark("sft", t)
    steps["dpo"] = run_trl("dpo", work / f"sft{suffix}", data, work / f"dpo{suffix}", settings.dpo_seconds, log, settings.dpo_steps,
            frozen=frozen,
            per_device_train_batch_size=settings.dpo_batch_size, learning_rate=settings.dpo_learning_rate,
            bridge_learning_rate=settings.bridge_learning_rate, warmup_steps=2, **extra)
    t = mark("dpo", t)

    model = XEmoGPTForConditionalGeneration.from_pretrained(work / f"dpo{suffix}").eval()
    processor = XEmoGPTProcessor.from_pretrained(work / f"dpo{suffix}")
    tok = processor.tokenizer
    set_generation_tokens(model, tok)
    model.generation_config.max_new_tokens = 200
    model.generation_config.do_sample = False
    timings["total"] = time.perf_counter() - t0
    output_dir = args.output_dir if args.variant == "full" else str(work / f"model{suffix}")
    out = save_pretrained_with_code(model, processor, output_dir,
                                    extra_files={"README.md": demo_model_card.model_card(settings, timings, info, output_dir)})
    (out / "training_log.json").write_text(json.dumps({"settings": asdict(settings), "variant": args.variant,
                                                       "timings": timings, "steps": steps,
                                                       "probes": info.get("probes")}, indent=2) + "\n")
    log(f"saved {out} (total {timings['total']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
