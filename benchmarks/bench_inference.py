"""Inference speed of XEmoGPT on CPU: where one clip's time goes, batched throughput against the published
inference path, and the per-token cost of the multimodal model against the bare LLM.

Model: random weights at a size that means something on CPU and runs fast (CLIP-style vision 256 wide, HuBERT-style
audio 256 wide, Qwen3 512 wide x 8 layers with the real Qwen3 tokenizer and vocabulary: ~115M parameters), 16
frames, bfloat16 (this machine's CPU has AMX), one torch thread (on the shared 2-core machine two threads ran
4-10x slower). Clips: synthetic MP4s (H.264 + AAC, 320x240) of `--seconds` seconds and more.

* `split_s`: one clip at batch 1 - file decode (`load_clip`), preprocessing (processor), frozen encoders, prefill
  (bridges + projections + LLM over the merged prompt), the decode step (`per_token`) and the bare LLM's decode
  step on an embedding sequence of the same length (`bare_llm_per_token`: the multimodal overhead of a step).
* `throughput`: clips/s generating `--new-tokens` greedy tokens for `--clips` decoded clips, ours batched at
  1 / 4 / 8 (clips sorted by prompt length as `xemogpt predict` does, `prepare_clips`, left padding, one
  `generate` per batch), against `PublishedPath` below: a re-implementation of
  the published inference code on the same weights (plain prompt split on its placeholders, each piece tokenized
  per sample, media features concatenated into the embedding sequence, one clip at a time). Per path also the
  prefill seconds per batch and the median decode-step seconds per batch, and the clips/s they imply at
  `--project-tokens` new tokens (explanations are a few hundred tokens; the published cap is 756).

Decode steps are timed inside generate() by a logits processor (medians over every step), paths run interleaved
in each repeat, and every number is a median. The LAST stdout line is one JSON object with `machine`, `settings`,
`split_s`, `throughput`, `ratios`.

    python benchmarks/bench_inference.py [--repeats 3] [--clips 8] [--new-tokens 32] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from transformers import LogitsProcessor, LogitsProcessorList  # noqa: E402

from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration, XEmoGPTProcessor  # noqa: E402
from modeling_xemogpt.processing_xemogpt import ORIGINAL_PROMPT  # noqa: E402
from processing.media import load_clip  # noqa: E402
from processing.inference.predict import prompt_length  # noqa: E402
from processing.tokenizers import media_token_ids, qwen3_tokenizer, set_generation_tokens  # noqa: E402
from tests.media_fixtures import write_test_video  # noqa: E402
from common import AUDIO, VISION  # noqa: E402  (benchmarks/common.py)

TEXT = dict(model_type="qwen3", hidden_size=512, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=8,
            num_key_value_heads=4, head_dim=64, tie_word_embeddings=True, max_position_embeddings=4096)
SUBTITLES = ["I can't believe you did that!", "Fine. Whatever you say.", "Oh wow, this is wonderful news!",
             "Please, just leave me alone.", "We did it, we actually did it!", "I don't know what to tell you.",
             "Why would anyone do this?", "That's okay, really."]


def build_model(dtype=torch.bfloat16):
    tokenizer = qwen3_tokenizer()
    config = XEmoGPTConfig(vision_config=VISION, audio_config=AUDIO,
                           text_config={**TEXT, "vocab_size": len(tokenizer)}, prompt_style="original",
                           **media_token_ids(tokenizer))
    torch.manual_seed(0)
    model = XEmoGPTForConditionalGeneration(config).to(dtype).eval()
    set_generation_tokens(model, tokenizer, eos=None)  # every run generates exactly --new-tokens tokens
    return model, XEmoGPTProcessor.for_config(config, tokenizer)


def bare_llm(model):
    """The Qwen3 causal LM that shares the multimodal model's language model and head (no copy)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        llm = AutoModelForCausalLM.from_config(model.config.text_config)
    llm.model, llm.lm_head = model.model.language_model, model.lm_head
    llm.generation_config.pad_token_id = model.generation_config.pad_token_id
    llm.generation_config.eos_token_id = None
    return llm.eval()


class PublishedPath:
    """The published inference path on the same weights: one clip at a time; the plain `###Human: ...` prompt is
    split on `<AudioHere>` / `<VideoHere>`, each piece tokenized on its own (the pad token as BOS), the pieces'
    embeddings and the projected audio / video features concatenated, and the LLM generates from `inputs_embeds`."""

    def __init__(self, model, processor):
        self.core, self.processor, self.tokenizer = model.model, processor, processor.tokenizer
        self.llm = bare_llm(model)

    def video_tokens(self, frames):
        core = self.core
        pixels = self.processor.image_processor(images=list(frames), return_tensors="pt")["pixel_values"]
        pixels = pixels.to(core.vision_tower.dtype)
        cls = core.vision_tower(pixel_values=pixels).last_hidden_state[:, 0]  # (F, Dv), CLS before post-layernorm
        hidden = cls.unsqueeze(0) + core.video_bridge.position_embedding[:, : cls.shape[0]]
        for layer in core.video_bridge.layers:
            hidden = layer(hidden, attention_mask=None)
        return core.video_projector(hidden)[0]

    def audio_tokens(self, audio):
        core = self.core
        values = self.processor.feature_extractor(audio, sampling_rate=self.processor.sampling_rate,
                                                  return_tensors="pt")["input_values"]
        hidden = core.audio_tower(values.to(core.audio_tower.dtype)).last_hidden_state
        for layer in core.audio_bridge.layers:
            hidden = layer(hidden, attention_mask=None)
        return core.audio_projector(hidden)[0]

    def embeds(self, clip):
        prompt = self.tokenizer.pad_token + ORIGINAL_PROMPT.format(subtitle=clip["subtitle"],
                                                                   instruction=self.processor.default_instruction)
        before, rest = prompt.split("<AudioHere>")
        middle, after = rest.split("<VideoHere>")
        embed = self.core.get_input_embeddings()
        pieces = [embed(torch.tensor(self.tokenizer(text, add_special_tokens=False)["input_ids"]))
                  for text in (before, middle, after)]
        audio = self.audio_tokens(clip["audio"][: self.processor.max_audio_samples])
        return torch.cat([pieces[0], audio, pieces[1], self.video_tokens(clip["frames"]), pieces[2]])

    def generate(self, clip, max_new_tokens, **kwargs):
        embeds = self.embeds(clip).unsqueeze(0)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long)
        return self.llm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, **kwargs)


def ours_generate(model, processor, clips, max_new_tokens, **kwargs):
    inputs = processor.prepare_clips(clips, style="original", padding_side="left")
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, **kwargs)
    return out[:, inputs["input_ids"].shape[1]:]


class StepClock(LogitsProcessor):
    """Notes the time whenever generate() has the next-token scores: the first note ends the prefill (media, prompt),
    the gaps between notes are decode steps. Medians over many steps resist the load bursts of a shared machine."""

    def __init__(self):
        self.start, self.marks = time.perf_counter(), []

    def __call__(self, input_ids, scores):
        self.marks.append(time.perf_counter())
        return scores

    @property
    def prefill(self) -> float:
        return self.marks[0] - self.start

    @property
    def steps(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


def clocked(run) -> StepClock:
    """Run `run(logits_processor=...)` and return its clock (started just before the call)."""
    clock = StepClock()
    run(logits_processor=LogitsProcessorList([clock]))
    return clock


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def make_clips(folder: Path, count: int, seconds: float, processor):
    paths = [write_test_video(folder / f"clip{i}.mp4", seconds=seconds + 0.25 * (i % 4), fps=25, size=(320, 240),
                              bframes=0) for i in range(count)]
    clips = []
    for i, path in enumerate(paths):
        clip = load_clip(path, num_frames=processor.num_frames, sampling_rate=processor.sampling_rate,
                         max_audio_seconds=processor.max_audio_seconds)
        clips.append({"frames": clip.frames, "audio": clip.audio, "timestamps": clip.timestamps,
                      "subtitle": SUBTITLES[i % len(SUBTITLES)]})
    return paths, clips


def split_one_clip(model, processor, path, clip, repeats, new_tokens):
    """Median seconds of each stage for one clip at batch 1, and the per-token decode step of the full model vs.
    the bare LLM fed random embeddings of the same prompt length (interleaved, medians over all steps)."""
    core, llm = model.model, bare_llm(model)
    stages = {k: [] for k in ("decode", "preprocess", "encode", "prefill")}
    steps = {"per_token": [], "bare_llm_per_token": []}
    for _ in range(repeats):
        stages["decode"].append(timed(lambda: load_clip(path, num_frames=processor.num_frames)))
        start = time.perf_counter()
        inputs = dict(processor.prepare_clips([clip], style="original"))
        stages["preprocess"].append(time.perf_counter() - start)
        start = time.perf_counter()
        inputs["video_features"] = core.encode_video(inputs.pop("pixel_values_videos"))
        inputs["audio_features"], inputs["audio_features_mask"] = core.encode_audio(
            inputs.pop("input_values"), None, inputs.pop("audio_attention_mask"))
        stages["encode"].append(time.perf_counter() - start)
        stages["prefill"].append(timed(lambda: model(**inputs, use_cache=True, logits_to_keep=1)))
        embeds = (torch.randn(1, inputs["input_ids"].shape[1], model.config.text_config.hidden_size) * 0.02).to(model.dtype)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long)
        steps["per_token"] += clocked(lambda **kw: model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False,
                                                                  **kw)).steps
        steps["bare_llm_per_token"] += clocked(lambda **kw: llm.generate(
            inputs_embeds=embeds, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False, **kw)).steps
    prompt_tokens = int(processor.prepare_clips([clip], style="original")["input_ids"].shape[1])
    return {**{k: round(statistics.median(v), 5) for k, v in {**stages, **steps}.items()},
            "prompt_tokens": prompt_tokens, "decode_steps_timed": len(steps["per_token"])}


def throughput(model, processor, clips, repeats, new_tokens, batch_sizes, project_tokens):
    """Clips/s generating `new_tokens` tokens, per path, with each path's prefill seconds per batch (from the call
    to the first scores: preprocessing, encoders, bridges, LLM prefill) and median decode-step seconds per batch,
    and the clips/s these imply at `project_tokens` new tokens: batch / (prefill + (tokens - 1) * step)."""
    baseline = PublishedPath(model, processor)
    by_length = sorted(clips, key=lambda clip: -prompt_length(clip, processor))  # as `xemogpt predict` batches
    sizes = {"published": 1, **{f"ours_b{b}": b for b in batch_sizes}}
    runs = {"published": lambda chunk, **kw: baseline.generate(chunk[0], new_tokens, **kw)}
    for b in batch_sizes:
        runs[f"ours_b{b}"] = lambda chunk, **kw: ours_generate(model, processor, chunk, new_tokens, **kw)
    totals = {name: [] for name in runs}
    prefills = {name: [] for name in runs}
    steps = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            order = clips if name == "published" else by_length
            for i in range(0, len(order), sizes[name]):
                clock = clocked(lambda **kw: run(order[i:i + sizes[name]], **kw))
                prefills[name].append(clock.prefill)
                steps[name] += clock.steps
            totals[name].append(time.perf_counter() - start)
    result = {}
    for name in runs:
        prefill, step = statistics.median(prefills[name]), statistics.median(steps[name])
        result[name] = {
            "clips_per_s": round(len(clips) / statistics.median(totals[name]), 3),
            "prefill_s_per_batch": round(prefill, 4),
            "step_s_per_batch": round(step, 4),
            f"projected_clips_per_s_at_{project_tokens}_tokens": round(
                sizes[name] / (prefill + (project_tokens - 1) * step), 4),
        }
    # same weights, same prompt: the two paths should write the same greedy tokens
    ours = ours_generate(model, processor, clips[:1], 8)[0].tolist()
    published = baseline.generate(clips[0], 8)[0].tolist()
    return result, ours == published


def cpu_description() -> dict:
    """CPU model and the matrix-extension flags that decide bf16 speed (AMX, AVX-512 BF16)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu": platform.processor()}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return {"cpu": model, "cpu_flags": sorted(f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512f", "avx2")))}


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            **cpu_description(), "load_average_at_start": list(os.getloadavg()), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "device": "cpu"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="throughput repeats (default %(default)s)")
    parser.add_argument("--split-repeats", type=int, default=5, help="one-clip stage repeats (default %(default)s)")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.5, help="clip length (audio tokens grow 50 per second)")
    parser.add_argument("--project-tokens", type=int, default=256,
                        help="also report the clips/s implied at this many new tokens (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on this shared 2-core machine 2 threads ran 4-10x slower)")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16",
                        help="weights and activations of both paths (default bfloat16: this CPU has AMX)")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 4 clips, 8 tokens (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.split_repeats, args.clips, args.new_tokens = 1, 1, 4, 8
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    info = machine()
    model, processor = build_model(getattr(torch, args.dtype))
    parts = model.parameter_breakdown()
    batch_sizes = [b for b in (1, 4, 8) if b <= args.clips]
    with torch.inference_mode(), tempfile.TemporaryDirectory() as folder:
        paths, clips = make_clips(Path(folder), args.clips, args.seconds, processor)
        ours_generate(model, processor, clips[:2], 2)  # warm-up (lazy init, allocator)
        split = split_one_clip(model, processor, paths[0], clips[0], args.split_repeats, args.new_tokens)
        rates, same_tokens = throughput(model, processor, clips, args.repeats, args.new_tokens, batch_sizes,
                                        args.project_tokens)
    projected = f"projected_clips_per_s_at_{args.project_tokens}_tokens"
    ratios = {f"throughput_b{b}_vs_published": round(rates[f"ours_b{b}"]["clips_per_s"] / rates["published"]["clips_per_s"], 2)
              for b in batch_sizes}
    ratios.update({f"projected_b{b}_vs_published_at_{args.project_tokens}_tokens":
                   round(rates[f"ours_b{b}"][projected] / rates["published"][projected], 2) for b in batch_sizes})
    ratios["decode_step_vs_bare_llm"] = round(split["per_token"] / split["bare_llm_per_token"], 3)
    print(json.dumps({
        "machine": info,
        "settings": {"repeats": args.repeats, "split_repeats": args.split_repeats, "clips": args.clips, "new_tokens": args.new_tokens,
                     "clip_seconds": args.seconds, "num_frames": processor.num_frames, "dtype": args.dtype,
                     "decoding": "greedy", "prompt": "original (published) style for both paths",
                     "torch_threads": args.threads, "project_tokens": args.project_tokens,
                     "vision": VISION, "audio": AUDIO, "text": {**TEXT, "vocab_size": len(processor.tokenizer)},
                     "parameters": parts, "batch_sizes": batch_sizes},
        "split_s": split,
        "throughput": rates,
        "published_greedy_tokens_match": same_tokens,
        "wall_s": round(time.perf_counter() - start, 1),
        "ratios": ratios,
    }))


if __name__ == "__main__":
    main()
