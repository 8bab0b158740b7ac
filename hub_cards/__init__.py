"""Model and dataset card templates (Jinja, rendered by huggingface_hub's ModelCard / DatasetCard)."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent
MODEL_CARD_TEMPLATE = TEMPLATES / "model_card_template.md"
DATASET_CARD_TEMPLATE = TEMPLATES / "dataset_card_template.md"
