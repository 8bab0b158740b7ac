"""`xemogpt export`: a Hub-ready folder with code, auto_map, processor and a model card."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from processing.cli import main
from processing.testing import random_clip, tiny_model_and_processor
from tests.remote_code import assert_loads_without_our_packages


@pytest.fixture(scope="module")
def saved(save_model_folder):
    model, processor = tiny_model_and_processor(seed=4)
    d = save_model_folder(model, processor, "model")
    evaluation = {"visual": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "n": 40},
                  "auditory": {"precision": 0.7, "recall": 0.6, "f1": 0.65, "n": 40},
                  "emotional": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "n": 40},
                  "emotion": {"accuracy": 0.75, "n": 40}}
    (d / "eval.json").write_text(json.dumps(evaluation))
    return model, processor, d


def test_export_writes_code_auto_map_processor_and_card(saved, tmp_path, capsys):
    model, _, d = saved
    code = main(["export", str(d), str(tmp_path / "out"), "--repo-id", "org/xemogpt-tiny",
                 "--evaluation", str(d / "eval.json"), "--dataset", "org/emocue-synth"])
    assert code == 0
    out = tmp_path / "out"
    for name in ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
                 "configuration_xemogpt.py", "modeling_xemogpt.py", "processing_xemogpt.py", "README.md"):
        assert (out / name).exists(), name
    auto_map = json.loads((out / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForImageTextToText", "AutoModelForMultimodalLM",
                             "AutoProcessor"}
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "video-text-to-text"
    assert meta["datasets"] == ["org/emocue-synth"]
    metrics = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics["EmoCue-360 visual F1"] == 0.85 and metrics["emotion accuracy"] == 0.75
    assert "trust_remote_code=True" in card and "BitsAndBytesConfig" in card


def test_exported_folder_gives_identical_logits_where_our_packages_cannot_be_imported(saved, tmp_path):
    model, processor, d = saved
    assert main(["export", str(d), str(tmp_path / "out")]) == 0
    frames, audio = random_clip(seed=2)
    with torch.no_grad():
        expected = model(**processor.prepare_clip(frames, audio, subtitle="s")).logits
    assert_loads_without_our_packages(tmp_path / "out", tmp_path, frames, audio, expected)


def test_large_models_are_sharded(saved, tmp_path):
    from modeling_xemogpt import XEmoGPTForConditionalGeneration

    model, _, d = saved
    assert main(["export", str(d), str(tmp_path / "out"), "--max-shard-size", "200KB"]) == 0
    assert (tmp_path / "out" / "model.safetensors.index.json").exists()
    reloaded = XEmoGPTForConditionalGeneration.from_pretrained(tmp_path / "out")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[key], value)


@pytest.mark.usefixtures("hub_offline")
def test_push_failure_offline_is_one_clear_line_and_keeps_the_folder(saved, tmp_path, capsys):
    _, _, d = saved
    code = main(["export", str(d), str(tmp_path / "out"), "--push-to-hub", "org/x"])
    err = capsys.readouterr().err
    assert code == 2 and "push to org/x failed" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "out" / "model.safetensors").exists()


def test_folders_we_publish_get_the_mode_of_a_plain_mkdir(saved, tmp_path):
    """Exported model folders and written datasets are staged in a temporary folder and renamed; they must not
    keep tempfile's 0700."""
    import stat

    from processing.data.synth.corpus import generate_corpus

    _, _, d = saved
    assert main(["export", str(d), str(tmp_path / "out")]) == 0
    generate_corpus(tmp_path / "synth", 2, split_fractions={"train": 1.0}, size=32, num_workers=1)
    (tmp_path / "plain").mkdir()
    mode = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "synth").stat().st_mode) == mode


# ---- cards: huggingface_hub's parser reads every card we write; the model-index is the evaluation's numbers --------

BUNDLED = Path(__file__).resolve().parents[1] / "examples" / "models" / "xemogpt-synth-tiny"
REQUIRED_MODEL_METADATA = ("library_name", "pipeline_tag", "license", "datasets", "model-index")


def model_index_numbers(card) -> dict:
    """{(split, metric name): value} of a parsed card's model-index."""
    return {(result.dataset_split, result.metric_name): result.metric_value for result in card.data.eval_results}


def evaluation_numbers(path, system) -> dict:
    study = json.loads(Path(path).read_text())["systems"][system]
    out = {}
    for split, scores in study.items():
        for category in ("visual", "auditory", "emotional"):
            out[(split, f"EmoCue-360 {category} F1")] = round(scores["emocue360"][category]["f1"], 4)
        out[(split, "emotion accuracy")] = round(scores["emotion_accuracy"], 4)
    return out


def test_the_exported_card_of_the_bundled_model_is_a_complete_hub_card_with_its_evaluation(tmp_path):
    from huggingface_hub import ModelCard

    assert main(["export", str(BUNDLED), str(tmp_path / "out")]) == 0
    card = ModelCard.load(tmp_path / "out" / "README.md")
    data = card.data.to_dict()
    for field in REQUIRED_MODEL_METADATA:
        assert data.get(field), field
    # video-text-to-text is one of the Hub's tasks (huggingface.co/tasks/video-text-to-text; huggingface_hub ships no list)
    assert data["pipeline_tag"] == "video-text-to-text" and data["datasets"] == ["xemogpt/emocue-synth"]
    assert card.data.model_name == "xemogpt-synth-tiny"  # the model's name, not the output folder's
    assert {r.dataset_name for r in card.data.eval_results} == {"EmoCue-Synth"}
    assert model_index_numbers(card) == evaluation_numbers(BUNDLED / "evaluation.json", "xemogpt-synth-tiny")
    assert 'pip install "transformers' in card.text and "trust_remote_code=True" in card.text


def test_every_card_we_ship_parses_with_its_hub_metadata():
    from huggingface_hub import DatasetCard, ModelCard

    root = BUNDLED.parents[2]
    bundled = ModelCard.load(BUNDLED / "README.md")
    assert all(bundled.data.to_dict().get(f) for f in REQUIRED_MODEL_METADATA)
    assert model_index_numbers(bundled) == evaluation_numbers(BUNDLED / "evaluation.json", "xemogpt-synth-tiny")
    example = ModelCard.load(root / "hub_cards" / "examples" / "model_card_xemogpt-synth-tiny.md")
    assert model_index_numbers(example) == model_index_numbers(bundled)
    dataset = DatasetCard.load(root / "hub_cards" / "examples" / "dataset_card_emocue-synth.md").data.to_dict()
    assert {c["config_name"] for c in dataset["configs"]} == {"default", "messages", "preference"}
    assert dataset["license"] and dataset["task_categories"] and dataset["dataset_info"]["features"]
    space = ModelCard.load(root / "spaces_demo" / "README.md").data.to_dict()  # Space cards share the parser
    assert space["sdk"] == "gradio" and space["models"] == ["xemogpt/xemogpt-synth-tiny", "openai/whisper-tiny.en"]


def test_an_evaluation_file_of_another_format_is_refused_not_an_empty_table(tmp_path, capsys):
    (tmp_path / "other.json").write_text(json.dumps({"accuracy": 0.5}))
    assert main(["export", str(BUNDLED), str(tmp_path / "out"), "--evaluation", str(tmp_path / "other.json")]) == 2
    assert "no EmoCue-360 scores in it" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_base_model_defaults_to_the_hub_ids_the_parts_were_built_from(saved):
    from transformers import AutoConfig

    from processing.hub.model_card import config_base_models

    config = AutoConfig.from_pretrained(saved[2])
    assert config_base_models(config) == []  # built from scratch: no base model
    config.text_config._name_or_path, config.vision_config._name_or_path = "Qwen/Qwen3-4B", "openai/clip-vit-large-patch14"
    config.audio_config._name_or_path = str(saved[2])  # a local folder is not a Hub id
    assert config_base_models(config) == ["Qwen/Qwen3-4B", "openai/clip-vit-large-patch14"]
