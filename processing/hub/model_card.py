"""Model cards for exported XEmoGPT folders, filled from `hub_cards/model_card_template.md`."""

from __future__ import annotations

import json
from pathlib import Path

from hub_cards import MODEL_CARD_TEMPLATE
from modeling_xemogpt.configuration_xemogpt import PIPELINE_TASK

# What a Hub user installs to run the model's remote code (packages on PyPI; torchvision is not needed).
PIP_INSTALL = 'pip install "transformers>=5.24,<6" torch av pillow scipy'

DEFAULT_LIMITATIONS = (
    "Emotion recognition from faces and voices is uncertain and culturally variable; explanations can name cues "
    "that are not there. Do not use the model for decisions about people."
)


# Pretty names of the datasets our model-index entries can name (Hub id -> name shown on the model page).
DATASET_NAMES = {"xemogpt/emocue-synth": "EmoCue-Synth"}
CATEGORIES = ("visual", "auditory", "emotional")


def load_evaluation(path, system: str | None = None) -> dict:
    """{split or None: {"visual" | "auditory" | "emotional": {precision, recall, f1, n}, "emotion": {accuracy, n}}}
    from an evaluation JSON this project writes:

    * `xemogpt evaluate --json` / `--out DIR` (`emocue360.json`): one set of scores (split None);
    * `examples/scripts/evaluate_demo_model.py`'s `evaluation.json` (`systems` -> name -> split -> scores): the
      scores of `system` (the exported model's name), per split.

    Raises XEmoGPTError for a file that holds neither (instead of writing an empty results table)."""
    from processing.errors import XEmoGPTError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise XEmoGPTError(f"--evaluation {path}: cannot read it as JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("systems"), dict):
        systems = data["systems"]
        if system not in systems:
            raise XEmoGPTError(f"--evaluation {path}: no system {system!r} in it (systems: {', '.join(systems)}); "
                               "name the one to report with --evaluation-system")
        out = {}
        for split, scores in systems[system].items():
            if isinstance(scores, dict) and isinstance(scores.get("emocue360"), dict):
                out[split] = {**{c: scores["emocue360"][c] for c in CATEGORIES if c in scores["emocue360"]},
                              **({"emotion": {"accuracy": scores["emotion_accuracy"], "n": scores.get("n")}}
                                 if "emotion_accuracy" in scores else {})}
        if out:
            return out
    elif isinstance(data, dict) and any(isinstance(data.get(c), dict) and "f1" in data[c] for c in CATEGORIES):
        return {None: data}
    raise XEmoGPTError(f"--evaluation {path}: no EmoCue-360 scores in it (expected the JSON of `xemogpt evaluate "
                       "--json` or evaluate_demo_model.py's evaluation.json)")


def _results_table(evaluation: dict) -> str:
    rows = ["| split | category | precision | recall | F1 | n |", "|---|---|---|---|---|---|"]
    for split, scores in evaluation.items():
        for category in CATEGORIES:
            score = scores.get(category)
            if score:
                rows.append(f"| {split or ''} | {category} | {score['precision']:.3f} | {score['recall']:.3f} | "
                            f"{score['f1']:.3f} | {score['n']} |")
        if "emotion" in scores:
            rows.append(f"| {split or ''} | emotion accuracy | | | {scores['emotion']['accuracy']:.3f} | "
                        f"{scores['emotion'].get('n') or ''} |")
    return "\n".join(rows)


def config_base_models(config) -> list[str]:
    """The Hub ids the model was built from, as its sub-configs name them (`_name_or_path` of the vision, audio and
    text parts when that is a Hub id, not a local folder): the card's `base_model`."""
    import re

    ids = []
    for part in ("text_config", "vision_config", "audio_config"):
        name = str(getattr(getattr(config, part, None), "_name_or_path", "") or "")
        if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not Path(name).exists() and name not in ids:
            ids.append(name)
    return ids


def source_card_data(folder) -> dict:
    """`datasets`, `base_model` and `license` of the model card (README.md) in `folder`, where it has them."""
    from huggingface_hub import ModelCard

    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return {}
    data = ModelCard.load(readme).data.to_dict()
    base = data.get("base_model")
    return {"datasets": data.get("datasets"), "base_model": [base] if isinstance(base, str) else base,
            "license": data.get("license")}


def eval_results(evaluation: dict, dataset: str):
    """The model-index entries (huggingface_hub `EvalResult`) of `evaluation` (see `load_evaluation`) on `dataset`
    (a Hub id): EmoCue-360 F1 per category and the emotion accuracy, per split."""
    from huggingface_hub import EvalResult

    name = DATASET_NAMES.get(dataset, dataset)
    results = []
    for split, scores in evaluation.items():
        common = dict(task_type="video-text-to-text", dataset_type=dataset, dataset_name=name, dataset_split=split)
        for category in CATEGORIES:
            if category in scores:
                results.append(EvalResult(**common, metric_type="f1", metric_name=f"EmoCue-360 {category} F1",
                                          metric_value=round(scores[category]["f1"], 4)))
        if "emotion" in scores:
            results.append(EvalResult(**common, metric_type="accuracy", metric_name="emotion accuracy",
                                      metric_value=round(scores["emotion"]["accuracy"], 4)))
    return results


TAGS = ["xemogpt", "emotion-recognition", "explainable-ai", "multimodal", "video", "audio", "custom_code"]


def make_card_data(model_name: str, *, tags, datasets=None, base_models=None, license: str = "apache-2.0",
                   evaluation: dict | None = None, eval_dataset: str | None = None):
    """The card's front matter (`huggingface_hub.ModelCardData`) of an XEmoGPT folder: transformers, the pipeline
    task, `tags`, and with `evaluation` (see `load_evaluation`) a model-index on `eval_dataset`. Used by exported
    folders' cards and by the demo model's."""
    from huggingface_hub import ModelCardData

    return ModelCardData(
        library_name="transformers",
        pipeline_tag=PIPELINE_TASK,
        license=license,
        base_model=list(base_models) if base_models else None,
        datasets=list(datasets) if datasets else None,
        tags=list(tags),
        model_name=model_name,
        eval_results=eval_results(evaluation, eval_dataset) if evaluation else None,
    )


def make_model_card(model, *, repo_id: str, description: str = "", evaluation: dict | None = None,
                    eval_dataset: str | None = None, datasets=None, license: str = "apache-2.0",
                    base_models=None, limitations: str = DEFAULT_LIMITATIONS, model_name: str | None = None):
    """A `huggingface_hub.ModelCard` for `model` (an XEmoGPTForConditionalGeneration). `evaluation`: scores as
    `load_evaluation` returns them, reported in the `model-index` on `eval_dataset` (a Hub id; default: the first of
    `datasets`)."""
    from huggingface_hub import ModelCard

    config = model.config
    datasets = list(datasets) if datasets else []
    eval_dataset = eval_dataset or (datasets[0] if datasets else "EmoCue")
    name = model_name or repo_id.split("/")[-1]
    card_data = make_card_data(name, tags=TAGS, datasets=datasets, base_models=base_models, license=license,
                               evaluation=evaluation, eval_dataset=eval_dataset)
    parameters = {part: f"{count:,}" for part, count in model.parameter_breakdown().items()}
    return ModelCard.from_template(
        card_data,
        template_path=str(MODEL_CARD_TEMPLATE),
        model_name=name,
        repo_id=repo_id,
        description=description,
        vision_name=getattr(config.vision_config, "_name_or_path", "") or config.vision_config.model_type,
        audio_name=getattr(config.audio_config, "_name_or_path", "") or config.audio_config.model_type,
        text_name=getattr(config.text_config, "_name_or_path", "") or config.text_config.model_type,
        num_frames=config.num_frames,
        vecb_layers=config.vecb_num_layers,
        aecb_layers=config.aecb_num_layers,
        parameters=parameters,
        results_table=_results_table(evaluation) if evaluation else "",
        eval_dataset=DATASET_NAMES.get(eval_dataset, eval_dataset),
        pip_install=PIP_INSTALL,
        pipeline_tag=PIPELINE_TASK,
        sampling_rate=config.audio_sampling_rate,
        limitations=limitations,
    )

