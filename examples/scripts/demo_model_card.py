"""The demo model's card: `hub_cards/demo_model_card_template.md` filled from the run and its result files.

    python examples/scripts/train_demo_model.py --card_only --output_dir examples/models/xemogpt-synth-tiny

Every measured number on the card comes from a file in the model folder: the run's settings, timings and encoder
probes (training_log.json, written by train_demo_model.py), the evaluation (evaluation.json and RESULTS.md,
evaluate_demo_model.py, which re-renders the card), modality attribution (attribution.json, measure_attribution.py)
and GRPO vs SFT (grpo_vs_sft.json, compare_grpo_sft.py). tests/test_demo_model.py renders the committed card again
and compares.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # demo_model.py

import demo_model as dm  # noqa: E402  (examples/scripts/demo_model.py)
from hub_cards import DEMO_MODEL_CARD_TEMPLATE  # noqa: E402

COMMAND = "make demo-model  # = python examples/scripts/train_demo_model.py --output_dir examples/models/xemogpt-synth-tiny"

CORPUS_REUSED = (" The corpus was reused from an earlier run with the same seed (`--reuse_corpus`: the same seed writes the "
                 "same clips); writing it takes about 150 s more on this CPU (151 s in the 2026-12-04 build).")


def card_metadata(model_dir: Path):
    """The card's front matter (`processing.hub.model_card.make_card_data`): the dataset, tags and a model-index from
    `model_dir`'s evaluation.json (evaluate_demo_model.py writes it) when there is one."""
    from processing.data.synth.corpus import HUB_ID
    from processing.hub.model_card import load_evaluation, make_card_data

    evaluation = model_dir / "evaluation.json"
    return make_card_data(
        "xemogpt-synth-tiny", datasets=[HUB_ID], eval_dataset=HUB_ID,
        tags=["xemogpt", "emocue-synth", "toy-model", "emotion-recognition", "video", "audio", "custom_code"],
        evaluation=load_evaluation(evaluation, "xemogpt-synth-tiny") if evaluation.is_file() else None)


def _result(model_dir: Path, name: str) -> dict | None:
    """A result file the evaluation scripts wrote into the model folder, or None when it is not there."""
    path = model_dir / name
    return json.loads(path.read_text()) if path.exists() else None


def _share(entry: dict | None, key: str = "attributed_share") -> str:
    return "n/a" if not entry or entry.get(key) is None else f"{100 * entry[key]:.1f} %"


class _NotMeasured:
    """A number its result file does not have (no file yet, or null there): formats as "n/a" whatever the spec."""

    def __format__(self, spec: str) -> str:
        return "n/a"


class _Measured(dict):
    """Numbers by name from one result file, for the card template (`{full_test[head]:.1f}`). Empty when the file is
    missing (a folder evaluate_demo_model.py has not scored yet): every name then reads "n/a". A name the file does
    not hold is a KeyError (a misspelt placeholder)."""

    def __missing__(self, key):
        if self:
            raise KeyError(key)
        return _NotMeasured()


# the card's placeholder prefix -> the system's name in evaluation.json
CARD_SYSTEMS = {"full": "xemogpt-synth-tiny", "no_vecb": "no_vecb", "no_vecb_shuffled": "no_vecb_shuffled",
                "no_aecb": "no_aecb", "subtitle_only": "subtitle_only"}


def evaluation_numbers(model_dir: Path) -> dict[str, _Measured]:
    """The numbers the card's findings quote from `model_dir`'s evaluation.json (evaluate_demo_model.py writes it), one
    `_Measured` per system and split, named `<system>_<split>` (`full_test`, `no_vecb_compositional`, ...; systems in
    `CARD_SYSTEMS`): accuracies and shares in % (`emotion`, `emotion_low` / `emotion_high`: its 95 % bootstrap
    interval, `direction`, `follows`: the conclusion follows the model's own cues, `own_cues_imply`: they imply the
    true emotion, and each factor by name: `head`, `eyes`, ...), exact cue F1 as fractions (`visual_f1`,
    `auditory_f1`) and `n`, the number of clips."""
    data = _result(model_dir, "evaluation.json")
    numbers = {}
    for prefix, system in CARD_SYSTEMS.items():
        for split in ("test", "compositional"):
            entry = (data or {}).get("systems", {}).get(system, {}).get(split)
            measured = _Measured()
            if entry:
                low, high = entry["bootstrap_95"]["emotion_accuracy"]
                shares = {"emotion": entry["emotion_accuracy"], "emotion_low": low, "emotion_high": high,
                          "direction": entry.get("direction_of_change_accuracy"),
                          "follows": entry.get("conclusion_follows_own_cues"),
                          "own_cues_imply": entry.get("own_cues_imply_true_emotion"), **entry["per_factor_accuracy"]}
                measured.update({name: _NotMeasured() if value is None else 100 * value
                                 for name, value in shares.items()})
                measured.update(visual_f1=entry["exact_visual"]["f1"], auditory_f1=entry["exact_auditory"]["f1"],
                                n=entry["n"])
            numbers[f"{prefix}_{split}"] = measured
    return numbers


def attribution_finding(model_dir: Path) -> str:
    """The findings line on modality attribution, from `model_dir`'s attribution.json (measure_attribution.py writes
    it); "" when there is none."""
    data = _result(model_dir, "attribution.json")
    if data is None:
        return ""
    cues, emotion = data["overall"]["cues"], data["overall"]["emotion"]
    splits = ", ".join(f"{n} {s}" for s, n in data["corpus"]["splits"].items())

    def kind(name, modality):
        entry = cues.get(name)
        return (f"{name} {_share(entry)} to the {modality} ({_share(entry, 'only_share')} to it alone, "
                f"{_share(entry, 'none_share')} to no single input; {entry['stated'] if entry else 0} stated)")

    rules = "; ".join(f"{rule.split('rule ')[1]} {_share(emotion.get(rule))} (n={emotion[rule]['stated']})"
                      for rule in sorted(emotion) if rule.startswith("emotion, rule F") and "neutral" not in rule)
    neutral = emotion.get("emotion, rule F5 (neutral words)")
    neutral_text = (f"; F5 with neutral words (no input decides) is the same without every single input in "
                    f"{_share(neutral, 'none_share')} of {neutral['stated']} clips" if neutral else "")
    defaults = sorted(((entry["none_share"], cue) for cue, entry in data.get("by_cue", {}).items()
                       if entry["none_share"] and entry["none_share"] >= 0.5), reverse=True)
    defaults_text = ("; ".join(f"{cue.rstrip('.')} ({100 * share:.0f} %)" for share, cue in defaults))
    defaults_text = (f" Removal finds an input only when the model says something else without it: the cues it keeps "
                     f"stating without their input (its default when that input is missing, or one inferred from "
                     f"another input) are where attribution says \"none\": {defaults_text}; every other visual / "
                     f"auditory cue stated at least 10 times is attributed to its true input in at least "
                     f"{100 * min(e['attributed_share'] for e in data.get('by_cue', {}).values() if e['none_share'] < 0.5):.0f}"
                     f" % of clips." if defaults else "")
    text = f"""* Modality attribution (`xemogpt explain --attribute`: the clip again without its video, its audio, its subtitle, one
  batch; a cue rests on an input when removing that input takes it away), measured on {data['overall']['clips']}
  held-out clips ({splits}; `examples/scripts/measure_attribution.py`, attribution.json), where the true input of
  every cue is known: {kind('visual cues', 'video')}; {kind('auditory cues', 'audio')}; face readings
  {_share(cues.get('video readings'))} to the video, voice readings {_share(cues.get('audio readings'))} to the
  audio, subtitle readings {_share(cues.get('subtitle readings'))} to the subtitle. The emotion depends on the input
  its corpus rule makes decisive in {_share(emotion.get('emotion, rules F1-F5'))} of clips (F1 forced smile and F4:
  audio, F2 sarcasm and F5: subtitle, F3: video; per rule {rules}){neutral_text}.{defaults_text}"""
    import textwrap

    return "\n" + textwrap.fill(" ".join(text.split()), width=118, subsequent_indent="  ", break_on_hyphens=False)


def grpo_finding(model_dir: Path) -> str:
    """The findings line on GRPO vs continued SFT, from `model_dir`'s grpo_vs_sft.json (compare_grpo_sft.py writes
    it); "" when there is none."""
    data = _result(model_dir, "grpo_vs_sft.json")
    if data is None:
        return ""
    names = {"emotion": "emotion accuracy", "exact_visual": "exact visual F1", "exact_auditory": "exact auditory F1",
             "emocue360_visual": "EmoCue-360 visual F1", "emocue360_auditory": "EmoCue-360 auditory F1",
             "invented": "invented cues per clip"}

    def value(system, key):
        entry = data["systems"][system][key]
        return f"{entry['value']:.3f} ({entry['ci95'][0]:.3f}-{entry['ci95'][1]:.3f})"

    rows = "; ".join(f"{label}: start {value('start', key)} -> SFT {value('continued SFT', key)} / GRPO "
                     f"{value('GRPO', key)}" for key, label in names.items())
    verdicts = []
    for pair, differences in data["differences"].items():
        outside = [f"{names[k]} {v['value']:+.3f} ({v['ci95'][0]:+.3f} to {v['ci95'][1]:+.3f})"
                   for k, v in differences.items() if v["outside_interval"]]
        verdicts.append(f"{pair}: {'; '.join(outside) if outside else 'none'}")
    verdict = "Differences whose 95 % interval excludes 0 — " + "; ".join(verdicts)
    steps = {m: data["training"][m]["optimizer_steps"] for m in ("sft", "grpo")}
    rewards = {k.split("/")[1]: (data["training"]["grpo"]["first_5_logs_mean"][k],
                                 data["training"]["grpo"]["last_5_logs_mean"][k])
               for k in data["training"]["grpo"]["first_5_logs_mean"] if k.startswith("rewards/") and k.endswith("/mean")}
    trend = ", ".join(f"{name} {a:.2f} -> {b:.2f}" for name, (a, b) in rewards.items())
    text = f"""* GRPO with cue rewards (`xemogpt train grpo`: emotion, EmoCue-360 cue F1, invented cues, format) vs continued SFT,
  both from this model, {data['budget_seconds']:.0f} s of training each, run side by side (SFT {steps['sft']} steps of 8
  clips, GRPO {steps['grpo']} steps of 2 clips x 4 samples; learning rate {data['learning_rate']:g}), on
  {data['eval_clips']['total']} held-out clips ({data['eval_clips']['test']} test + {data['eval_clips']['compositional']}
  compositional; paired bootstrap; `examples/scripts/compare_grpo_sft.py`, grpo_vs_sft.json). {rows}. {verdict}.
  GRPO's sampled rewards, first vs last 5 logged steps: {trend}."""
    import textwrap

    return "\n" + textwrap.fill(" ".join(text.split()), width=118, subsequent_indent="  ", break_on_hyphens=False)


def model_card(settings, timings, log_info, model_dir=None) -> str:
    """The model folder's README.md: `hub_cards/demo_model_card_template.md` filled from the run's settings, timings
    and encoder probes (what training_log.json records) and from the result files in `model_dir` (RESULTS.md and
    evaluation.json from evaluate_demo_model.py, attribution.json, grpo_vs_sft.json)."""
    model_dir = Path(model_dir or ROOT / "examples/models/xemogpt-synth-tiny")
    results = model_dir / "RESULTS.md"
    probes = log_info.get("probes") or {}
    return DEMO_MODEL_CARD_TEMPLATE.read_text().format(
        metadata=card_metadata(model_dir).to_yaml(), settings=settings, parameters_millions=timings["parameters"] / 1e6,
        probes=json.dumps(log_info.get("probes", {})), probe_vision=_Measured(probes.get("vision") or {}),
        probe_audio=_Measured(probes.get("audio") or {}), **evaluation_numbers(model_dir),
        attribution_finding=attribution_finding(model_dir), grpo_finding=grpo_finding(model_dir),
        table=results.read_text() if results.exists() else "(run examples/scripts/evaluate_demo_model.py)\n",
        command=COMMAND, settings_json=json.dumps(asdict(settings)), total_seconds=timings["total"],
        stage_times=json.dumps({k: round(v) for k, v in timings.items() if k not in ("total", "parameters")}),
        corpus_note=CORPUS_REUSED if timings.get("corpus", 0) < 10 else "")


def write_card(output_dir: Path) -> int:
    """Render `output_dir`'s README.md again from its training_log.json and result files (atomically)."""
    log_file = output_dir / "training_log.json"
    if not log_file.is_file():
        print(f"error: {log_file} not found: --card_only rewrites the card of a model this script trained", file=sys.stderr)
        return 2
    log = json.loads(log_file.read_text())
    settings = dm.DemoSettings(**log["settings"])
    card = model_card(settings, log["timings"], {"probes": log.get("probes")}, output_dir)
    tmp = output_dir / "README.md.tmp"
    tmp.write_text(card)
    tmp.replace(output_dir / "README.md")
    print(f"wrote {output_dir / 'README.md'}")
    return 0
