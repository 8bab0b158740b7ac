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


def _results_table(evaluation: dict) -> str:
    rows = ["| category | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for category in ("visual", "auditory", "emotional"):
        score = evaluation.get(category)
        if score:
            rows.append(f"| {category} | {score['precision']:.3f} | {score['recall']:.3f} | {score['f1']:.3f} | {score['n']} |")
    if "emotion" in evaluation:
        rows.append(f"| emotion accuracy | | | {evaluation['emotion']['accuracy']:.3f} | {evaluation['emotion']['n']} |")
    return "\n".join(rows)


def make_model_card(model, *, repo_id: str, description: str = "", evaluation: dict | None = None,
                    dataset_name: str = "EmoCue", datasets=None, license: str = "apache-2.0",
                    base_models=None, limitations: str = DEFAULT_LIMITATIONS, model_name: str | None = None):
    """A `huggingface_hub.ModelCard` for `model` (an XEmoGPTForConditionalGeneration), with a `model-index`
    built from an EmoCue-360 evaluation JSON (`xemogpt evaluate --json` output) when given."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    config = model.config
    eval_results = []
    for category in ("visual", "auditory", "emotional"):
        if evaluation and category in evaluation:
            eval_results.append(EvalResult(
                task_type="video-text-to-text", dataset_type=dataset_name, dataset_name=dataset_name,
                metric_type="f1", metric_name=f"EmoCue-360 {category} F1", metric_value=round(evaluation[category]["f1"], 4),
            ))
    if evaluation and "emotion" in evaluation:
        eval_results.append(EvalResult(
            task_type="video-text-to-text", dataset_type=dataset_name, dataset_name=dataset_name,
            metric_type="accuracy", metric_name="emotion accuracy", metric_value=round(evaluation["emotion"]["accuracy"], 4),
        ))
    name = model_name or repo_id.split("/")[-1]
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag=PIPELINE_TASK,
        license=license,
        base_model=list(base_models) if base_models else None,
        datasets=list(datasets) if datasets else None,
        tags=["xemogpt", "emotion-recognition", "explainable-ai", "multimodal", "video", "audio", "custom_code"],
        model_name=name,
        eval_results=eval_results or None,
    )
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
        pip_install=PIP_INSTALL,
        pipeline_tag=PIPELINE_TASK,
        sampling_rate=config.audio_sampling_rate,
        limitations=limitations,
    )


def load_evaluation(path) -> dict:
    return json.loads(Path(path).read_text())
