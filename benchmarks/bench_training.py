"""Training speed on this machine. Each `bench_*` function returns {"settings", "results", "ratios"}; `main()` runs
them and prints one JSON line per benchmark, then the summary object (the LAST line) with `machine`, `settings`,
`results` and `ratios`, keyed by benchmark name.

* `bench_sft_cached_vs_raw`: one SFT optimizer step of the synth-tiny model (examples/recipes/synth-tiny) on
  EmoCue-Synth clips, with media decoded + encoded every step (raw) vs read from the frozen-encoder feature cache
  (cached); same model, batch and sequence lengths. Also the one-off cost of building the cache.
* `bench_alignment_cached_vs_raw`: one stage-1 (VECB) and one stage-2 (AECB) alignment step of the synth-tiny
  alignment recipe's model, with frames / audio decoded and the frozen encoder run every step (raw) vs cached encoder
  outputs; same model, batch and initial weights. Also the one-off cost of caching. (The tiny recipe's AECB is as
  deep as its 2-layer audio encoder, so caching can at most about halve an audio step there; with HuBERT-large's
  24 layers under a 2-layer AECB the encoder dominates as the video encoder does here.)
* `bench_sft_loss_full_logits_vs_fused`: one SFT optimizer step of the bundled demo model on cached features, in
  batches shaped like `make demo-model`'s (16 EmoCue-Synth rows, 16 video + up to 30 audio tokens), with the loss
  computed as `XEmoGPTSFTTrainer` does on CPU (from the full logits) vs TRL's fused LM head (chunked log-probs).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

SFT_CLIPS = 24
SFT_BATCH = 8
SFT_STEPS = 6  # timed steps, after one warm-up step


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "device": "cpu",
            "load_average_1min": round(os.getloadavg()[0], 2)}


def _step_seconds(trainer) -> list[float]:
    """Train `trainer` and return the wall time between consecutive optimizer steps (data loading included)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    return [b - a for a, b in zip(timer.ends, timer.ends[1:])]


def bench_sft_cached_vs_raw() -> dict:
    """SFT step time with cached frozen-encoder features vs raw media (decode + encoders every step)."""
    from trl import SFTConfig

    from processing.data.emocue import load_emocue
    from processing.data.synth.corpus import generate_corpus
    from processing.training.feature_cache import cache_media_features, open_feature_cache
    from processing.training.sft import build_sft_trainer
    from processing.training.setup import build_model_from_config, corpus_texts

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "synth"
        generate_corpus(data_dir, SFT_CLIPS, split_fractions={"train": 1.0}, num_workers=2)
        train = load_emocue(data_dir, split="train")
        model, processor = build_model_from_config(ROOT / "examples/recipes/synth-tiny/model_config.json",
                                                   corpus_texts(train))
        initial = {k: v.clone() for k, v in model.state_dict().items()}

        start = time.perf_counter()
        for kind in ("video", "audio"):
            cache_media_features(train, data_dir, model, processor, kind, "train", progress=False)
        cache_seconds = time.perf_counter() - start
        cache = open_feature_cache(data_dir, model, processor)

        def step_times(feature_cache) -> list[float]:
            model.load_state_dict(initial)
            args = SFTConfig(output_dir=str(Path(tmp) / "out"), max_steps=SFT_STEPS + 1,
                             per_device_train_batch_size=SFT_BATCH, learning_rate=1e-3, use_cpu=True, bf16=False,
                             gradient_checkpointing=False, report_to="none", save_strategy="no",
                             logging_strategy="no", max_length=512, seed=0, disable_tqdm=True)
            return _step_seconds(build_sft_trainer(model, processor, args, train, feature_cache=feature_cache))

        raw, cached = step_times(None), step_times(cache)
    raw_s, cached_s = sum(raw) / len(raw), sum(cached) / len(cached)
    return {
        "settings": {"model": "examples/recipes/synth-tiny/model_config.json", "clips": SFT_CLIPS,
                     "batch_size": SFT_BATCH, "timed_steps": len(raw), "num_frames": model.config.num_frames,
                     "max_audio_seconds": model.config.max_audio_seconds,
                     "parameters": model.parameter_breakdown()["total"]},
        "results": {"raw_step_s": round(raw_s, 3), "cached_step_s": round(cached_s, 3),
                    "cache_build_s": round(cache_seconds, 2),
                    "cache_build_per_clip_s": round(cache_seconds / SFT_CLIPS, 3)},
        "ratios": {"sft_step_speedup_cached_vs_raw": round(raw_s / cached_s, 2),
                   # steps after which building the cache has paid for itself
                   "sft_cache_break_even_steps": round(cache_seconds / max(raw_s - cached_s, 1e-9), 1)},
    }


ALIGN_CLIPS = 32
ALIGN_BATCH = 16
ALIGN_STEPS = 6  # timed steps, after one warm-up step
ALIGN_THREADS = 1  # tiny models on a shared 2-core machine run fastest single-threaded


def bench_alignment_cached_vs_raw() -> dict:
    """Alignment (stages 1-2) step time with cached frozen-encoder outputs vs decoding + encoding every step."""
    from transformers import TrainingArguments

    from processing.data.emocue import load_emocue
    from processing.data.synth.corpus import generate_corpus
    from processing.training.align import AlignmentArguments
    from processing.training.align_trainer import AlignmentCollator, build_alignment_model, make_trainer, prepare_split
    from processing.training.feature_cache import cache_media_features, load_text_encoder
    from processing.training.setup import corpus_texts, save_fresh_model

    threads = torch.get_num_threads()
    torch.set_num_threads(ALIGN_THREADS)
    settings, results, ratios = {}, {}, {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "synth"
            generate_corpus(data_dir, ALIGN_CLIPS, split_fractions={"train": 1.0}, num_workers=2)
            records = load_emocue(data_dir, split="train")
            base = ROOT / "examples/models/xemogpt-synth-tiny"  # the tiny alignment recipes' encoders
            if not (base / "config.json").is_file():
                base = Path(tmp) / "base"
                save_fresh_model(base, ROOT / "examples/recipes/synth-tiny/model_config.json", corpus_texts(records))
            text_encoder = load_text_encoder(None)
            for stage in ("video", "audio"):
                args = AlignmentArguments(model_name_or_path=str(base), dataset_name=str(data_dir),
                                          shared_embed_dim=128)
                step = {}
                for mode in ("raw", "cached"):
                    torch.manual_seed(0)
                    model, processor, encoders = build_alignment_model(args, stage, base, text_encoder.dim,
                                                                       with_encoders=mode == "raw")
                    if mode == "cached":
                        start = time.perf_counter()
                        cache_media_features(records, data_dir, encoders, processor, stage, "train", progress=False)
                        seconds = time.perf_counter() - start
                        results[f"{stage}_cache_build_per_clip_s"] = round(seconds / len(records), 4)
                    data = prepare_split(args, stage, "train", records, encoders, processor, text_encoder,
                                         mode == "cached")
                    if mode == "cached":
                        data = data.with_format("numpy")
                    training = TrainingArguments(
                        output_dir=str(Path(tmp) / "out"), max_steps=ALIGN_STEPS + 1,
                        per_device_train_batch_size=ALIGN_BATCH, learning_rate=1e-3, use_cpu=True, report_to="none",
                        save_strategy="no", logging_strategy="no", disable_tqdm=True, remove_unused_columns=False,
                        seed=0, dataloader_num_workers=0)
                    times = _step_seconds(make_trainer(model, training, data, AlignmentCollator(stage, processor)))
                    step[mode] = sum(times) / len(times)
                    results[f"{stage}_{mode}_step_s"] = round(step[mode], 4)
                ratios[f"align_{stage}_step_speedup_cached_vs_raw"] = round(step["raw"] / step["cached"], 2)
            config = model.config
            settings = {"model": str(base.relative_to(ROOT)) if base.is_relative_to(ROOT) else "model_config.json",
                        "clips": ALIGN_CLIPS, "batch_size": ALIGN_BATCH, "timed_steps": ALIGN_STEPS,
                        "torch_threads": ALIGN_THREADS, "num_frames": config.num_frames,
                        "max_audio_seconds": config.max_audio_seconds, "frame_size": 112,
                        "audio_encoder": config.audio_config.model_type, "dataloader_num_workers": 0}
    finally:
        torch.set_num_threads(threads)
    return {"settings": settings, "results": results, "ratios": ratios}


LOSS_ROWS = 64
LOSS_BATCH = 16
LOSS_STEPS = 8  # timed steps, after one warm-up step


def bench_sft_loss_full_logits_vs_fused() -> dict:
    """SFT step time of the demo model with the loss from full logits (our CPU path) vs TRL's fused LM head."""
    import datasets
    import numpy as np
    from trl import SFTConfig, SFTTrainer

    from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration, XEmoGPTProcessor
    from processing.data.synth.corpus import synth_sample
    from processing.training.sft import build_sft_trainer

    base = ROOT / "examples/models/xemogpt-synth-tiny"
    processor = XEmoGPTProcessor.from_pretrained(base)
    config = XEmoGPTConfig.from_pretrained(base)
    rng = np.random.default_rng(0)
    rows, cache = [], {}
    for i in range(LOSS_ROWS):  # records of the corpus; media = encoder outputs of the demo model's widths
        record = synth_sample(0, "train", i)[1]
        rows.append({k: record[k] for k in ("id", "subtitle", "explanation")} | {"video": "cached.mp4", "audio": None})
        frames = int(rng.integers(100, 301))  # 2-6 s of audio-encoder frames
        cache[record["id"]] = {
            "video_features": rng.standard_normal((config.num_frames, config.vision_hidden_size)).astype(np.float32),
            "audio_features": rng.standard_normal((frames, config.audio_hidden_size)).astype(np.float32),
            "audio_features_mask": np.ones(frames, dtype=bool)}
    train = datasets.Dataset.from_list(rows)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        def step_times(fused: bool, out: str) -> list[float]:
            model = XEmoGPTForConditionalGeneration.from_pretrained(base)
            args = SFTConfig(output_dir=out, max_steps=LOSS_STEPS + 1,
                             per_device_train_batch_size=LOSS_BATCH, learning_rate=1e-4, use_cpu=True, bf16=False,
                             gradient_checkpointing=False, report_to="none", save_strategy="no",
                             logging_strategy="no", max_length=512, seed=0, disable_tqdm=True)
            trainer = build_sft_trainer(model, processor, args, train, feature_cache=cache)
            if fused:  # TRL's own loss: the fused LM head
                trainer.compute_loss = SFTTrainer.compute_loss.__get__(trainer)
            return _step_seconds(trainer)

        with tempfile.TemporaryDirectory() as tmp:
            fused, full = step_times(True, tmp), step_times(False, tmp)
    finally:
        torch.set_num_threads(threads)
    fused_s, full_s = sum(fused) / len(fused), sum(full) / len(full)
    return {
        "settings": {"model": "examples/models/xemogpt-synth-tiny", "rows": LOSS_ROWS, "batch_size": LOSS_BATCH,
                     "timed_steps": len(full), "torch_threads": 2, "vocab_size": config.text_config.vocab_size},
        "results": {"fused_lm_head_step_s": round(fused_s, 4), "full_logits_step_s": round(full_s, 4)},
        "ratios": {"sft_step_speedup_full_logits_vs_fused_lm_head": round(fused_s / full_s, 2)},
    }


BENCHMARKS = [bench_sft_cached_vs_raw, bench_alignment_cached_vs_raw, bench_sft_loss_full_logits_vs_fused]


def main() -> None:
    summary = {"benchmark": "training", "machine": machine(), "settings": {}, "results": {}, "ratios": {}}
    for bench in BENCHMARKS:
        name = bench.__name__.removeprefix("bench_")
        out = bench()
        print(json.dumps({"benchmark": name, **out}), flush=True)
        summary["settings"][name] = out["settings"]
        summary["results"][name] = out["results"]
        summary["ratios"].update(out["ratios"])
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
