"""Model and dataset card templates (Jinja, rendered by huggingface_hub's ModelCard / DatasetCard)."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent
MODEL_CARD_TEMPLATE = TEMPLATES / "model_card_template.md"
DATASET_CARD_TEMPLATE = TEMPLATES / "dataset_card_template.md"
# The bundled demo model's card (examples/models/xemogpt-synth-tiny/README.md), a str.format template filled by
# `examples/scripts/train_demo_model.py --card_only` from the run's settings and the folder's result files.
DEMO_MODEL_CARD_TEMPLATE = TEMPLATES / "demo_model_card_template.md"
