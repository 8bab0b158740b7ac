"""Train the bundled demo model `xemogpt-synth-tiny` from scratch on EmoCue-Synth (CPU, one command).

    python examples/scripts/train_demo_model.py --output_dir examples/models/xemogpt-synth-tiny
    (= `make demo-model`)

Encoder pretraining (tiny CLIP vision + tiny Whisper-style encoder on the synth factor labels, then frozen),
feature cache, stage 1 (VECB), stage 2 (AECB), SFT, DPO; see processing/demo_model.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from processing import demo_model as dm  # noqa: E402

COMMAND = "make demo-model  # = python examples/scripts/train_demo_model.py --output_dir examples/models/xemogpt-synth-tiny"


def model_card(settings, timings) -> str:
    results = Path(__file__).resolve().parents[2] / "examples/models/xemogpt-synth-tiny/RESULTS.md"
    table = results.read_text() if results.exists() else "(run examples/scripts/evaluate_demo_model.py)\n"
    return f"""---
license: apache-2.0
tags: [xemogpt, emocue-synth, toy-model]
---
# xemogpt-synth-tiny

A **toy** XEmoGPT (~{timings['parameters'] / 1e6:.1f} M parameters) trained from scratch, on a CPU, only on
**EmoCue-Synth** — procedurally drawn faces and wordless synthetic voices. It exists so that `make demo`,
`xemogpt explain` and the Space work offline and so that the cue-perception study has a model to study.
**It is not an emotion recognition model**: on real people and real speech its output is meaningless.

Architecture: CLIP-vision encoder (hidden 64, 2 layers, patch 8, 64 px) and Whisper-style log-mel encoder
(d_model 64, 2 layers, 80 mels, {settings.max_audio_seconds:g}-s window), both pretrained on the synth factor labels
and frozen; VECB (position table + 2 CLIP layers), AECB (2 Whisper layers, order-keeping pooling by
{settings.audio_token_stride} -> 5 audio tokens/s); Qwen3 decoder (hidden {settings.text_hidden}, {settings.text_layers} layers)
with a {settings.vocab_size}-token byte-level BPE trained on the corpus texts. Training: encoder pretraining ->
feature cache -> stage 1 (VECB) -> stage 2 (AECB) -> SFT -> DPO.

## Results

{table}
## Reproduce

```
{COMMAND}
python examples/scripts/evaluate_demo_model.py   # writes evaluation.json and RESULTS.md
```

Training settings: `{json.dumps(asdict(settings))}`

Wall time of the run that produced this folder: {timings['total']:.0f} s
(per stage: {json.dumps({k: round(v) for k, v in timings.items() if k not in ('total', 'parameters')})}).
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="examples/models/xemogpt-synth-tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
    parser.add_argument("--cache_out", default=None, help="also save the feature cache (for the ablations)")
    parser.add_argument("--quick", action="store_true", help="a few seconds per stage (smoke test only)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    settings = dm.DemoSettings(seed=args.seed)
    if args.quick:
        settings = dm.DemoSettings(seed=args.seed, vision_seconds=5, audio_seconds=5, num_clips=24, stage1_steps=3,
                                   stage2_steps=3, sft_steps=3, dpo_steps=2, batch_size=4)
    t0 = time.perf_counter()
    timings = {}

    def log(message):
        print(f"[{time.perf_counter() - t0:6.0f}s] {message}", flush=True)

    def mark(name, since):
        timings[name] = time.perf_counter() - since
        return time.perf_counter()

    from modeling_xemogpt import XEmoGPTForConditionalGeneration, XEmoGPTProcessor
    from modeling_xemogpt.hub import save_pretrained_with_code
    from processing.tokenizers import build_bpe_tokenizer

    # Training clips render in the background while the tokenizer trains.
    pool = ProcessPoolExecutor(2)
    clip_args = [(settings.seed, i, settings.num_frames, settings.max_audio_seconds, settings.image_size,
                  settings.jpeg_quality) for i in range(settings.num_clips)]
    pending = pool.map(dm.render_training_clip, clip_args, chunksize=8)

    t = time.perf_counter()
    tokenizer = build_bpe_tokenizer(dm.corpus_texts(2000, settings.seed), vocab_size=settings.vocab_size)
    config = dm.build_config(settings, tokenizer)
    model = XEmoGPTForConditionalGeneration(config).eval()
    processor = XEmoGPTProcessor.for_config(config, tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.max_new_tokens = 200
    model.generation_config.do_sample = False
    timings["parameters"] = sum(p.numel() for p in model.parameters())
    log(f"tokenizer {len(tokenizer)} tokens; model {timings['parameters'] / 1e6:.2f} M parameters")
    t = mark("tokenizer", t)

    clips = list(pending)
    pool.shutdown()
    mel = dm.mel_features(processor, clips)
    log(f"rendered {len(clips)} training clips")
    t = mark("render_clips", t)
    log(f"vision steps: {dm.pretrain_vision(model, settings, log, clips)}")
    t = mark("vision_pretraining", t)
    log(f"audio steps: {dm.pretrain_audio(model, processor, settings, log, clips, mel)}")
    t = mark("audio_pretraining", t)
    video, audio = dm.encode_clips(model, processor, clips, mel)
    log(f"cached features of {len(clips)} clips")
    t = mark("feature_cache", t)
    if args.cache_out:
        torch.save({"records": [c[0] for c in clips], "video": video, "audio": audio}, args.cache_out)

    bridges_llm = ("model.language_model", "lm_head")
    dm.train_lm(model, dm.build_examples(processor, clips, audio, "video"), video, audio, steps=settings.stage1_steps,
                lr=2e-3, batch_size=settings.batch_size, trainable=("model.video_bridge", "model.video_projector") + bridges_llm,
                log=log, name="stage1 (VECB)", seed=settings.seed, seconds=settings.stage_seconds[0])
    t = mark("stage1_vecb", t)
    dm.train_lm(model, dm.build_examples(processor, clips, audio, "audio"), video, audio, steps=settings.stage2_steps,
                lr=2e-3, batch_size=settings.batch_size, trainable=("model.audio_bridge", "model.audio_projector") + bridges_llm,
                log=log, name="stage2 (AECB)", seed=settings.seed, seconds=settings.stage_seconds[1])
    t = mark("stage2_aecb", t)
    everything = ("model.video_bridge", "model.video_projector", "model.audio_bridge", "model.audio_projector") + bridges_llm
    dm.train_lm(model, dm.build_examples(processor, clips, audio, "sft"), video, audio, steps=settings.sft_steps,
                lr=1.5e-3, batch_size=settings.batch_size, trainable=everything, log=log, name="sft", seed=settings.seed, seconds=settings.stage_seconds[2])
    t = mark("sft", t)
    dm.train_dpo(model, processor, clips, video, audio, steps=settings.dpo_steps, lr=5e-5, batch_size=8, beta=0.1,
                 log=log, seed=settings.seed)
    t = mark("dpo", t)

    timings["total"] = time.perf_counter() - t0
    for p in model.parameters():
        p.requires_grad_(True)
    out = save_pretrained_with_code(model, processor, args.output_dir,
                                    extra_files={"README.md": model_card(settings, timings)})
    (out / "training_log.json").write_text(json.dumps({"settings": asdict(settings), "timings": timings}, indent=2) + "\n")
    log(f"saved {out} (total {timings['total']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
