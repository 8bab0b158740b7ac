"""The cue-perception study's own measures: does a conclusion follow from the explanation's own cues, and how much
frame order a reference classifier finds in frame vectors."""

import json
from pathlib import Path

import numpy as np
import torch

from tests.file_modules import load_file_module

SCRIPTS = Path(__file__).resolve().parent.parent / "examples" / "scripts"


def _script(name):
    return load_file_module(SCRIPTS, name)


def _records(n):
    from processing.synth.corpus import synth_sample

    return [synth_sample(0, "test", i)[1] for i in range(n)]


def test_a_gold_explanation_follows_from_its_own_cues_and_implies_the_true_emotion():
    from processing.synth.cues import recover_cues

    study = _script("evaluate_demo_model")
    for record in _records(20):
        assert study.reasoning(record, recover_cues(record["explanation"])) == {"follows": True, "sound": True}


def test_a_conclusion_spliced_from_another_clip_does_not_follow_from_the_stated_cues():
    from processing.synth.cues import recover_cues
    from processing.synth.rules import derive_emotion
    from processing.synth.factors import Factors

    study = _script("evaluate_demo_model")
    records = _records(40)
    a = records[0]
    b = next(r for r in records if r["emotion"] != a["emotion"]
             and derive_emotion(Factors(**{**json.loads(a["factors"]), "sentiment": json.loads(r["factors"])["sentiment"]})).emotion != r["emotion"])
    spliced = a["explanation"].split("Overall,")[0] + "Overall," + b["explanation"].split("Overall,")[1]
    judged = study.reasoning(a, recover_cues(spliced))
    assert judged is not None and judged["follows"] is False


def test_the_reference_order_probe_finds_order_in_frames_that_drift_and_none_in_static_ones():
    probe = _script("probe_frame_order")
    g = torch.Generator().manual_seed(0)
    drift = 3 * torch.linspace(-1, 1, 16)[None, :, None] * torch.randn(64, 1, 8, generator=g)
    moving = drift + 0.05 * torch.randn(64, 16, 8, generator=g)
    static = torch.randn(64, 1, 8, generator=g).expand(-1, 16, -1) + 0.05 * torch.randn(64, 16, 8, generator=g)
    net = probe.train_probe(torch.cat([moving, static]), steps=400, batch_size=32)
    assert probe.clip_accuracy(net, moving[:32]).mean() > 0.9
    assert abs(float(np.mean(probe.clip_accuracy(net, static[:32]))) - 0.5) < 0.2  # nothing to find: about chance


def test_self_contradictory_stated_cues_count_as_a_reasoning_failure_not_a_crash():
    from processing.synth.cues import CUE_TABLE, recover_cues

    study = _script("evaluate_demo_model")
    record = next(r for r in _records(60) if json.loads(r["factors"])["dynamics"] != "steady")
    cues = recover_cues(record["explanation"])
    face = {c.statement for (factor, _), c in CUE_TABLE.items() if factor in ("mouth", "brows", "eyes", "tears")}
    # the change of expression stays stated, the expression itself is dropped: a face that changes into nothing
    contradictory = {**cues, "visual": [c for c in cues["visual"] if c not in face]}
    values = study.factor_values(contradictory)
    assert values["dynamics"] != "steady" and values["mouth"] == "neutral"
    assert study.reasoning(record, contradictory) == {"follows": False, "sound": False}
