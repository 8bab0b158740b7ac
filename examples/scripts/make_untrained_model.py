"""Write examples/models/xemogpt-synth-tiny-untrained: the synth-tiny architecture with random weights.

    python examples/scripts/make_untrained_model.py [--output_dir DIR]     (or: make untrained-model)

Stock TRL loads models by path or Hub id, so a recipe that trains "from scratch" (`trl sft --config
examples/recipes/synth-tiny/sft.yaml`) starts from this folder: the architecture of
examples/recipes/synth-tiny/model_config.json, random weights (seed 0), and a byte-level BPE tokenizer trained on the
texts of 2000 EmoCue-Synth records (drawn without rendering media). Deterministic: the same files every run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MODEL_CONFIG = ROOT / "examples" / "recipes" / "synth-tiny" / "model_config.json"
DEFAULT_OUT = ROOT / "examples" / "models" / "xemogpt-synth-tiny-untrained"


def synth_texts(num_records: int = 2000, seed: int = 0) -> list[str]:
    from processing.data.synth.factors import sample_factors, sample_rng
    from processing.data.synth.record import make_record
    from processing.training.setup import corpus_texts

    records = []
    for index in range(num_records):
        rng = sample_rng(seed, "train", index)
        records.append(make_record(sample_factors(rng, "train"), rng, id=f"t{index}", rejected_seed=seed + index))
    return corpus_texts(records)


def model_card() -> str:
    """The folder's README: tagged `untrained`, which `xemogpt explain` and the Space read (they refuse, or say so).
    Training from it (`trl sft`, `xemogpt train`) writes the trainer's own card into the output, without the tag."""
    from huggingface_hub import ModelCardData

    from modeling_xemogpt.configuration_xemogpt import PIPELINE_TASK

    data = ModelCardData(library_name="transformers", pipeline_tag=PIPELINE_TASK, license="apache-2.0",
                         tags=["xemogpt", "untrained", "custom_code"])
    return f"""---
{data.to_yaml()}
---
# xemogpt-synth-tiny-untrained

The synth-tiny XEmoGPT architecture with **random weights** (seed 0) and a byte-level BPE tokenizer trained on
EmoCue-Synth texts: where `trl sft --config examples/recipes/synth-tiny/sft.yaml` starts. **Its text is noise**:
`xemogpt explain` refuses it unless given `--allow-untrained`, and a Space serving it says so on its page.
Rewrite it with `make untrained-model`.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)

    import torch

    from modeling_xemogpt.hub import save_pretrained_with_code
    from processing.training.setup import build_model_from_config

    texts = synth_texts()
    torch.manual_seed(0)
    model, processor = build_model_from_config(MODEL_CONFIG, texts)
    save_pretrained_with_code(model, processor, args.output_dir, extra_files={"README.md": model_card()})
    print(f"wrote {args.output_dir} ({sum(p.numel() for p in model.parameters()):,} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
