"""Does the model conclude from the cues it states, or from the media behind them?

    python examples/scripts/probe_reasoning_source.py [--model DIR] [--clips 200]

For held-out EmoCue-Synth clips (the evaluation corpus of evaluate_demo_model.py), the reference explanation's cue
part ("In the video, ... In the audio, ...") is given to the model as the start of its answer (teacher forcing) and
it writes the rest: the face reading, the voice reading and the emotion. Two conditions:

* own media: the clip's own frames and audio — the readings should be the rules applied to the given cues;
* swapped media: the frames and audio of another clip (the subtitle and the given cue text stay): a model that
  reasons over the cue text still writes the rules' readings; one that reads them off the media writes the other
  clip's.

Prints one JSON line per split: the share of clips whose stated face reading / voice reading / emotion equal the
rules applied to the given cues, per condition.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "scripts"))

import demo_model_scores as ev  # noqa: E402
from processing.data.synth.cues import recover_cues  # noqa: E402
from processing.data.synth.factors import Factors  # noqa: E402
from processing.data.synth.rules import derive_emotion  # noqa: E402

CONCLUSION = "Overall,"


@torch.no_grad()
def readings_after(model, processor, clip: dict, prefix: str) -> dict:
    """The readings the model states when its answer starts with `prefix` (greedy continuation)."""
    tok = processor.tokenizer
    inputs = dict(processor.prepare_clips([clip]))
    forced = torch.tensor([tok(prefix, add_special_tokens=False)["input_ids"]])
    inputs["input_ids"] = torch.cat([inputs["input_ids"], forced], 1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    out = model.generate(**inputs, max_new_tokens=48, do_sample=False, pad_token_id=tok.pad_token_id)
    text = prefix + tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return ev.stated_readings(recover_cues(text))


def probe(model, processor, records: list[dict], clips: list[dict], shift: int = 7) -> dict:
    """Shares (%) of clips whose stated readings follow the rules on the given cue text, own vs swapped media."""
    counts = {cond: {"face reading": 0, "voice reading": 0, "emotion": 0} for cond in ("own media", "swapped media")}
    n = len(records)
    for i, record in enumerate(records):
        rules = derive_emotion(Factors.from_json(record["factors"]))
        want = {"face reading": rules.visual, "voice reading": rules.vocal, "emotion": rules.emotion}
        explanation = record["explanation"]
        prefix = explanation[: explanation.index(CONCLUSION) + len(CONCLUSION)]
        other = {**clips[(i + shift) % n], "subtitle": clips[i]["subtitle"]}
        for cond, clip in (("own media", clips[i]), ("swapped media", other)):
            said = readings_after(model, processor, clip, prefix)
            for key in counts[cond]:
                counts[cond][key] += said.get(key, "neutral" if key != "emotion" else None) == want[key]
    return {cond: {k: round(100 * v / n, 1) for k, v in c.items()} for cond, c in counts.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "examples/models/xemogpt-synth-tiny"))
    parser.add_argument("--clips", type=int, default=200, help="clips per split (the first N of each)")
    parser.add_argument("--data_dir", default=None, help="evaluation corpus (default: evaluate_demo_model.py's)")
    parser.add_argument("--num-samples", type=int, default=1000, help="size of that corpus (test + compositional)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import modeling_xemogpt  # noqa: F401  (registers the Auto classes)
    from transformers import AutoModel, AutoProcessor

    data_dir = Path(args.data_dir or f"/tmp/xemogpt-synth-eval-s{args.seed}-{args.num_samples}")
    data = ev.eval_records(data_dir, args.num_samples, args.seed)
    model = AutoModel.from_pretrained(args.model).eval()
    processor = AutoProcessor.from_pretrained(args.model)
    for split in ("test", "compositional"):
        records = data[split][: args.clips]
        result = probe(model, processor, records, ev.decode(records, processor))
        print(json.dumps({"model": args.model, "split": split, "clips": len(records), **result}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
