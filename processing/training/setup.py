"""What every `xemogpt train` stage (SFT, DPO, GRPO) is built from, in one place.

`XEmoGPTArguments` (our options next to TRL's `ScriptArguments`, `SFTConfig` / `DPOConfig` / `GRPOConfig` and
`ModelConfig`) and `parse_args` (a YAML recipe + flags); `load_datasets`; `load_model_and_processor` (a local folder,
an adapter folder, or a fresh tiny model built from a config file on first use); `prepare_feature_cache`;
`set_trainable_parameters` (bridges follow the data's modalities) and `lora_config` (LoRA on the language model
only); `make_collator`; `prepare_training` (all of it, in order) and `train_and_save` (train, save, end cleanly).
The stages' own modules (`sft.py`, `dpo.py`, `grpo.py`) hold only their trainer and entry point.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from processing.errors import DatasetError, XEmoGPTError
from .collators import MODALITIES
from .optim import BRIDGE_MODULES, end_training, resume_checkpoint

# Parameter groups of XEmoGPTForConditionalGeneration.model, by the modality they serve.
MODALITY_MODULES = {"video": ("video_bridge", "video_projector"), "audio": ("audio_bridge", "audio_projector")}
PAPER_LORA_TARGETS = ["q_proj", "k_proj", "v_proj"]


@dataclass
class XEmoGPTArguments:
    """XEmoGPT's own training options (every TRL option is also accepted, from YAML or the command line)."""

    model_config: str | None = field(default=None, metadata={
        "help": "JSON file of XEmoGPTConfig arguments: when --model_name_or_path does not exist yet, a fresh model is "
                "built from it (with a BPE tokenizer trained on the training texts) and saved there first."})
    tokenizer_vocab_size: int = field(default=1024, metadata={"help": "vocabulary of that fresh BPE tokenizer"})
    modalities: list[str] = field(default_factory=lambda: list(MODALITIES), metadata={
        "help": "modalities to use when a row has them (video, audio); drop one for an ablation"})
    train_bridges: bool = field(default=True, metadata={
        "help": "train the bridge + projection of every modality present in the training data (VECB for video, "
                "AECB for audio); off: keep them as they are"})
    bridge_learning_rate: float | None = field(default=None, metadata={
        "help": "learning rate of the VECB / AECB layers (not the projections) when the bridges train: unset = "
                "--learning_rate; 0 = keep the bridges as stages 1-2 aligned them (at a from-scratch LLM's learning "
                "rate, stage 3 can erode what stage 1 taught the VECB; the demo model's card measures it)"})
    train_language_model: bool = field(default=True, metadata={
        "help": "without --use_peft: fine-tune the whole language model (off: bridges/projections only)"})
    feature_cache: str | None = field(default=None, metadata={
        "help": "a feature cache (processing.training.feature_cache) of frozen-encoder outputs: media are then not "
                "decoded for the rows it holds"})
    cache_features: bool = field(default=False, metadata={
        "help": "encode the train/eval media once with the frozen encoders into <dataset>/features/ (reused by "
                "later runs with the same encoders) and train on the cached outputs"})
    media_root: str | None = field(default=None, metadata={"help": "folder that relative media paths resolve against"})
    prompt_style: str | None = field(default=None, metadata={"help": "chat or original (default: the model's)"})
    instruction: str | None = field(default=None, metadata={"help": "instruction text (default: the processor's)"})
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training rows"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N evaluation rows"})
    max_train_seconds: float | None = field(default=None, metadata={
        "help": "stop after the optimizer step that ends this many seconds into training (and save): the same "
                "wall-clock budget for different methods"})
    rejected_kind: str | None = field(default=None, metadata={
        "help": "DPO: force one corruption for rejected answers (hallucinated_cue, wrong_modality, wrong_emotion)"})
    rejection_seed: int = field(default=0, metadata={"help": "DPO: seed of the rejected-answer builder"})
    use_record_rejected: bool = field(default=True, metadata={
        "help": "DPO: keep a record's own `rejected` text when it has one"})


# ---- data -----------------------------------------------------------------------------------------------------


def load_datasets(script_args, xargs: XEmoGPTArguments):
    """(train, eval or None) EmoCue splits named by `dataset_train_split` / `dataset_test_split`."""
    from processing.data.emocue import load_emocue

    if not script_args.dataset_name:
        raise XEmoGPTError("--dataset_name is required: an EmoCue folder (e.g. made by `xemogpt synth`) or Hub id")
    data = load_emocue(script_args.dataset_name, media_root=xargs.media_root, streaming=script_args.dataset_streaming)
    if script_args.dataset_train_split not in data:
        raise DatasetError(f"{script_args.dataset_name}: no split {script_args.dataset_train_split!r} "
                           f"(available: {sorted(data)}); set --dataset_train_split")
    train = data[script_args.dataset_train_split]
    evaluation = data.get(script_args.dataset_test_split)
    if xargs.max_train_samples is not None and not script_args.dataset_streaming:
        train = train.select(range(min(xargs.max_train_samples, len(train))))
    if evaluation is not None and xargs.max_eval_samples is not None and not script_args.dataset_streaming:
        evaluation = evaluation.select(range(min(xargs.max_eval_samples, len(evaluation))))
    return train, evaluation


def dataset_modalities(dataset, allowed: Sequence[str] = MODALITIES, probe: int = 8) -> tuple[str, ...]:
    """The modalities (among `allowed`) the rows of `dataset` carry (a map-style dataset is read whole, a streamed
    one by its first 100 rows). Audio counts when a row has an audio file or audio features, or a video with an
    audio track (the first `probe` videos without an audio file are opened to check)."""
    rows = dataset.select_columns([c for c in ("id", "video", "audio", "video_features", "audio_features")
                                   if c in (dataset.column_names or [])])
    rows = list(rows) if hasattr(rows, "__len__") else [row for _, row in zip(range(100), rows)]
    found = set()
    if any(row.get("video") or row.get("video_features") is not None for row in rows):
        found.add("video")
    if any(row.get("audio") or row.get("audio_features") is not None for row in rows):
        found.add("audio")
    else:
        from processing.media import has_audio_track

        if any(has_audio_track(row["video"]) for row in [r for r in rows if r.get("video")][:probe]):
            found.add("audio")
    return tuple(m for m in MODALITIES if m in found and m in allowed)


def corpus_texts(dataset, limit: int = 20000) -> list[str]:
    """Texts to train a fresh tokenizer on: answers, rejected answers, subtitles, and the prompt's own words."""
    from modeling_xemogpt.processing_xemogpt import CHAT_TEMPLATE, DEFAULT_INSTRUCTION

    texts = [DEFAULT_INSTRUCTION, CHAT_TEMPLATE, "Subtitle: (none)", "system user assistant Video: Audio:"]
    for _, row in zip(range(limit), dataset):
        texts += [row.get(k) for k in ("explanation", "rejected", "subtitle") if row.get(k)]
    return texts


def prepare_feature_cache(xargs: XEmoGPTArguments, dataset_name: str, model, processor, splits: Mapping,
                          modalities: Sequence[str]):
    """(feature cache or None, the modalities it covers). `--feature_cache PATH` opens an existing cache (checked
    against the model's encoders); `--cache_features` builds one for `splits` (name -> records) under the dataset
    folder first (kept, keyed by the encoders' weights, so later runs reuse it)."""
    from .feature_cache import cache_media_features, open_feature_cache

    encoders = model.get_base_model() if hasattr(model, "get_base_model") else model
    if xargs.feature_cache:
        cache = open_feature_cache(xargs.feature_cache, encoders, processor)
        kinds = {json.loads(Path(d, "cache.json").read_text())["key"]["kind"] for d in cache.cache_dirs}
        return cache, tuple(m for m in modalities if m in kinds)
    if not xargs.cache_features or not modalities:
        return None, ()
    if not Path(dataset_name).is_dir():
        raise XEmoGPTError(f"--cache_features needs a local dataset folder, got {dataset_name!r}")
    from accelerate import PartialState

    with PartialState().main_process_first():
        for kind in modalities:
            for split, records in splits.items():
                if records is not None:
                    cache_media_features(records, dataset_name, encoders, processor, kind, split)
    return open_feature_cache(dataset_name, encoders, processor), tuple(modalities)


# ---- model ----------------------------------------------------------------------------------------------------


def build_model_from_config(config_file: str | Path, texts: Iterable[str], vocab_size: int = 1024):
    """A fresh XEmoGPT (random weights) from a JSON file of XEmoGPTConfig arguments, with a byte-level BPE trained on
    `texts`. Returns (model, processor)."""
    from modeling_xemogpt import XEmoGPTConfig, XEmoGPTForConditionalGeneration, XEmoGPTProcessor

    from processing.tokenizers import build_bpe_tokenizer, media_token_ids, set_generation_tokens

    try:
        spec = json.loads(Path(config_file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise XEmoGPTError(f"--model_config {config_file}: cannot read a JSON object ({exc})") from None
    tokenizer = build_bpe_tokenizer(texts, vocab_size=spec.pop("tokenizer_vocab_size", vocab_size))
    text_config = dict(spec.pop("text_config"))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    text_config.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=im_end)
    config = XEmoGPTConfig(text_config=text_config, **media_token_ids(tokenizer), **spec)
    model = set_generation_tokens(XEmoGPTForConditionalGeneration(config), tokenizer)
    return model, XEmoGPTProcessor.for_config(config, tokenizer)


def _dtype(name):
    return name if name in (None, "auto") else getattr(torch, name)


def save_fresh_model(path: str | Path, config_file: str | Path, texts: Iterable[str], vocab_size: int = 1024) -> None:
    """Build a fresh model from `config_file` (see `build_model_from_config`) and save it, with its processor, at
    `path` atomically. Under `accelerate launch` only the main process builds; the others wait and then load it."""
    import os
    import shutil

    from accelerate import PartialState

    path = Path(path)
    with PartialState().main_process_first():
        if path.exists():
            return
        model, processor = build_model_from_config(config_file, texts, vocab_size)
        staging = path.with_name(path.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        os.replace(staging, path)


def load_model_and_processor(model_args, xargs: XEmoGPTArguments, tokenizer_dataset=None):
    """Model + processor from `model_args.model_name_or_path`:

    * a saved XEmoGPT folder (or Hub id);
    * a LoRA adapter folder saved by `xemogpt train sft --use_peft`: its base model + the adapter, trainable (training
      continues on it; TRL's DPO then uses a frozen copy of it as the reference);
    * a path that does not exist yet, with `--model_config`: a fresh model is built and saved there first, its
      tokenizer trained on `corpus_texts(tokenizer_dataset)`.

    `--load_in_4bit/8bit` quantize the language model only (the model's `quantization_skip_modules()` keep encoders,
    bridges, projections and LM head in `dtype`; on CPU use `--dtype bfloat16` with 4-bit, `float16` with 8-bit)."""
    import modeling_xemogpt  # noqa: F401  (registers the Auto classes)
    from modeling_xemogpt import XEmoGPTForConditionalGeneration, XEmoGPTProcessor
    from trl import get_quantization_config

    path = model_args.model_name_or_path
    if not path:
        raise XEmoGPTError("--model_name_or_path is required (a saved XEmoGPT folder)")
    if not Path(path).exists() and xargs.model_config:
        texts = corpus_texts(tokenizer_dataset) if tokenizer_dataset is not None else []
        save_fresh_model(path, xargs.model_config, texts, xargs.tokenizer_vocab_size)
    elif not Path(path).exists() and path.startswith((".", "/")):
        raise XEmoGPTError(f"{path}: no such model folder (give --model_config to build a fresh model there)")
    kwargs = {"dtype": _dtype(model_args.dtype), "revision": model_args.model_revision}
    if model_args.attn_implementation:
        kwargs["attn_implementation"] = model_args.attn_implementation
    quantization = get_quantization_config(model_args)
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    adapter = Path(path, "adapter_config.json").is_file()
    if adapter:
        from peft import PeftConfig, PeftModel

        base = PeftConfig.from_pretrained(path).base_model_name_or_path
        model = PeftModel.from_pretrained(XEmoGPTForConditionalGeneration.from_pretrained(base, **kwargs), path,
                                          is_trainable=True)
    else:
        model = XEmoGPTForConditionalGeneration.from_pretrained(path, **kwargs)
    processor = XEmoGPTProcessor.from_pretrained(path, revision=model_args.model_revision)
    return model, processor


def configure_training(model, model_args, xargs: XEmoGPTArguments, modalities: Sequence[str]):
    """Set what trains and return the LoRA config to hand to the trainer (None for full tuning, or when `model`
    already carries a trainable adapter)."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return None
    bridge_layers = xargs.bridge_learning_rate != 0
    set_trainable_parameters(model, modalities, train_bridges=xargs.train_bridges, bridge_layers=bridge_layers,
                             train_language_model=xargs.train_language_model and not model_args.use_peft)
    return lora_config(model, model_args, modalities, xargs.train_bridges, bridge_layers=bridge_layers)


def modality_modules(modalities: Sequence[str], train_bridges: bool = True, bridge_layers: bool = True) -> list[str]:
    """Names (under `model.model`) of the bridge + projection of each modality; the projection only without
    `bridge_layers`; none without `train_bridges`."""
    if not train_bridges:
        return []
    return [name for m in modalities for name in MODALITY_MODULES[m] if bridge_layers or name not in BRIDGE_MODULES]


def set_trainable_parameters(model, modalities: Sequence[str], *, train_bridges: bool = True,
                             bridge_layers: bool = True, train_language_model: bool = True) -> list[str]:
    """Freeze everything, then unfreeze the bridge + projection of each modality in `modalities` (video -> VECB,
    audio -> AECB; the projection alone without `bridge_layers`) and, with `train_language_model`, the language
    model and LM head. Returns the trained module names. (Under LoRA, PEFT re-freezes the language model and trains
    the adapter + `lora_config`'s modules.)"""
    model.requires_grad_(False)
    names = modality_modules(modalities, train_bridges, bridge_layers)
    for name in names:
        getattr(model.model, name).requires_grad_(True)
    if train_language_model:
        model.model.language_model.requires_grad_(True)
        model.lm_head.requires_grad_(True)
        names += ["language_model", "lm_head"]
    return names


def language_model_targets(model, targets=None) -> str:
    """A PEFT `target_modules` regex that can only match linear layers of `model.language_model`.

    targets: None (the paper's q/k/v), layer names (`["q_proj", "v_proj"]`), `"all-linear"`, or a regex over full
    module names (refused if it matches anything outside the language model)."""
    prefix = "model.language_model."
    linear = [n for n, m in model.named_modules() if n.startswith(prefix) and isinstance(m, torch.nn.Linear)]
    if isinstance(targets, str) and not re.fullmatch(r"[\w-]+", targets):
        outside = [n for n, _ in model.named_modules() if re.fullmatch(targets, n) and not n.startswith(prefix)]
        if outside:
            raise XEmoGPTError(f"--lora_target_modules {targets!r} also matches {outside[:3]} outside the language "
                               "model; LoRA is for model.language_model only")
        return targets
    names = PAPER_LORA_TARGETS if targets is None else [targets] if isinstance(targets, str) else list(targets)
    if names == ["all-linear"]:
        names = sorted({n.rsplit(".", 1)[-1] for n in linear})
    missing = [t for t in names if not any(n.rsplit(".", 1)[-1] == t for n in linear)]
    if missing:
        raise XEmoGPTError(f"--lora_target_modules {missing} name no linear layer of the language model "
                           f"(it has {sorted({n.rsplit('.', 1)[-1] for n in linear})})")
    return rf"model\.language_model\..*\.({'|'.join(map(re.escape, names))})"


def lora_config(model, model_args, modalities: Sequence[str], train_bridges: bool = True, bridge_layers: bool = True):
    """TRL's LoRA config from `model_args` (None without --use_peft), restricted to the language model, with the
    trained bridges + projections as `modules_to_save` (so the adapter folder holds them)."""
    from trl import get_peft_config

    config = get_peft_config(model_args)
    if config is None:
        return None
    config.target_modules = language_model_targets(model, model_args.lora_target_modules)
    extra = modality_modules(modalities, train_bridges, bridge_layers)
    config.modules_to_save = list(dict.fromkeys(list(model_args.lora_modules_to_save or []) + extra)) or None
    return config


def prepare_training_args(args):
    """What every XEmoGPT trainer needs: raw rows reach the collator untouched by TRL's text preprocessing. (A
    recipe's `assistant_only_loss`, for TRL's collator, is what XEmoGPT's collators always do: labels on the answer.)"""
    args.remove_unused_columns = False
    if getattr(args, "assistant_only_loss", False):
        args.assistant_only_loss = False
    if hasattr(args, "dataset_kwargs"):
        args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}
    return args


def make_collator(collator_class, processor, max_length, xargs=None, feature_cache=None, cached_modalities=None):
    """`collator_class` (SFT or preference collator) set up from `xargs` and the feature cache."""
    xargs = xargs or XEmoGPTArguments()
    return collator_class(processor, max_length=max_length, modalities=xargs.modalities, feature_cache=feature_cache,
                          cached_modalities=cached_modalities, prompt_style=xargs.prompt_style,
                          instruction=xargs.instruction)



# ---- the steps, in order ---------------------------------------------------------------------------------


@dataclass
class TrainingSetup:
    """Everything a trainer is built from, prepared the same way for SFT and DPO."""

    train_dataset: object
    eval_dataset: object
    model: object
    processor: object
    peft_config: object
    feature_cache: Mapping | None
    cached_modalities: tuple[str, ...]


def parse_args(argv: Sequence[str] | None, config_class, prog: str | None = None, script_class=None):
    """(`script_class` (ScriptArguments), `config_class` (SFTConfig / DPOConfig / GRPOConfig), ModelConfig,
    XEmoGPTArguments) from a YAML recipe
    (`--config`) and flags, flags winning; on a machine without CUDA `use_cpu` and no bf16 are the defaults. A bad
    recipe or value raises XEmoGPTError."""
    import yaml
    from trl import ModelConfig, ScriptArguments, TrlParser

    parser = TrlParser((script_class or ScriptArguments, config_class, ModelConfig, XEmoGPTArguments), prog=prog)
    if not torch.cuda.is_available():  # CPU-only machine: train on CPU in fp32 unless the recipe or a flag says else
        parser.set_defaults(use_cpu=True, bf16=False)
    try:
        parsed = parser.parse_args_and_config(None if argv is None else list(argv))
    except (ValueError, yaml.YAMLError) as exc:
        raise XEmoGPTError(f"bad recipe or flag: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc
    parsed[1].resume_from_checkpoint = resume_checkpoint(parsed[1])  # true / last / a path, checked before any work
    return parsed


def prepare_training(script_args, training_args, model_args, xargs: XEmoGPTArguments) -> TrainingSetup:
    """Load the EmoCue splits and the model, cache features if asked, and set what trains (see each function)."""
    train_dataset, eval_dataset = load_datasets(script_args, xargs)
    if eval_dataset is None and training_args.eval_strategy != "no":
        print(f"xemogpt train: warning: {script_args.dataset_name} has no split {script_args.dataset_test_split!r}: "
              "training without evaluation (eval_strategy no)", file=sys.stderr)
        training_args.eval_strategy = "no"
    if training_args.eval_strategy == "no":
        eval_dataset = None
    model, processor = load_model_and_processor(model_args, xargs, train_dataset)
    modalities = dataset_modalities(train_dataset, xargs.modalities)
    splits = {script_args.dataset_train_split: train_dataset, script_args.dataset_test_split: eval_dataset}
    cache, cached = prepare_feature_cache(xargs, script_args.dataset_name, model, processor, splits, modalities)
    peft_config = configure_training(model, model_args, xargs, modalities)
    return TrainingSetup(train_dataset, eval_dataset, model, processor, peft_config, cache, cached)


def train_and_save(trainer) -> int:
    """Train (resuming where the arguments say), save the model (or adapter) and the processor, end cleanly."""
    trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
    trainer.save_model(trainer.args.output_dir)
    end_training(trainer)
    return 0
