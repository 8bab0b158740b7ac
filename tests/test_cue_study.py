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
    from processing.data.synth.corpus import synth_sample

    return [synth_sample(0, "test", i)[1] for i in range(n)]


def test_a_gold_explanation_follows_from_its_own_cues_and_implies_the_true_emotion():
    from processing.data.synth.cues import recover_cues

    study = _script("demo_model_scores")
    for record in _records(20):
        assert study.reasoning(record, recover_cues(record["explanation"])) == {"follows": True, "sound": True}


def test_a_conclusion_spliced_from_another_clip_does_not_follow_from_the_stated_cues():
    from processing.data.synth.cues import recover_cues
    from processing.data.synth.rules import derive_emotion
    from processing.data.synth.factors import Factors

    study = _script("demo_model_scores")
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
    from processing.data.synth.cues import CUE_TABLE, recover_cues

    study = _script("demo_model_scores")
    record = next(r for r in _records(60) if json.loads(r["factors"])["dynamics"] != "steady")
    cues = recover_cues(record["explanation"])
    face = {c.statement for (factor, _), c in CUE_TABLE.items() if factor in ("mouth", "brows", "eyes", "tears")}
    # the change of expression stays stated, the expression itself is dropped: a face that changes into nothing
    contradictory = {**cues, "visual": [c for c in cues["visual"] if c not in face]}
    values = study.factor_values(contradictory)
    assert values["dynamics"] != "steady" and values["mouth"] == "neutral"
    assert study.reasoning(record, contradictory) == {"follows": False, "sound": False}


def test_bootstrap_intervals_hold_the_point_estimate_and_shrink_with_more_clips():
    study = _script("demo_model_scores")
    rng = np.random.default_rng(1)
    correct = rng.random(150) < 0.9
    counts = np.array([(3, 4, 4)] * 120 + [(4, 4, 4)] * 30)  # per clip: true positives, reference, predicted
    small = study.bootstrap_intervals(correct, {"exact_visual": counts})
    lo, hi = small["emotion_accuracy"]
    assert lo < correct.mean() < hi and 0.04 < hi - lo < 0.15  # binomial: 2 * 1.96 * sqrt(.9 * .1 / 150) ~ 0.096
    f1 = (120 * 3 + 30 * 4) / (150 * 4)  # precision == recall here
    assert small["exact_visual_f1"][0] <= f1 <= small["exact_visual_f1"][1]
    assert study.bootstrap_intervals(correct, {"exact_visual": counts}) == small  # seeded: reproducible
    large = study.bootstrap_intervals(np.tile(correct, 4), {"exact_visual": np.tile(counts, (4, 1))})
    assert large["emotion_accuracy"][1] - large["emotion_accuracy"][0] < hi - lo
    perfect = study.bootstrap_intervals(np.ones(20, bool), {"exact_visual": np.array([(2, 2, 2)] * 20)})
    assert perfect == {"emotion_accuracy": [1.0, 1.0], "exact_visual_f1": [1.0, 1.0]}


def _bag_of_words(texts):
    """A deterministic stand-in sentence embedder: hashed word counts, unit length."""
    import zlib

    out = np.zeros((len(texts), 256), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i, zlib.crc32(word.encode()) % 256] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_the_study_reports_intervals_next_to_emotion_accuracy_and_exact_f1():
    study = _script("demo_model_scores")
    records = _records(12)
    gold = study.score(records, [{"explanation": r["explanation"]} for r in records], _bag_of_words)
    assert gold["emotion_accuracy"] == 1.0
    assert gold["bootstrap_95"] == {"emotion_accuracy": [1.0, 1.0], "exact_visual_f1": [1.0, 1.0],
                                    "exact_auditory_f1": [1.0, 1.0]}
    spliced = [{"explanation": r["explanation"]} for r in records[:6]] + [
        {"explanation": records[(i + 1) % 12]["explanation"]} for i in range(6, 12)]  # half the clips: another clip's text
    mixed = study.score(records, spliced, _bag_of_words)
    assert gold["wrong_emotion_causes"] == {"perception": 0.0, "reasoning": 0.0, "unreadable": 0.0}
    wrong = 1 - mixed["emotion_accuracy"]  # another clip's text: its cues imply its own emotion, a perception error
    assert abs(sum(mixed["wrong_emotion_causes"].values()) - wrong) < 1e-9 and mixed["wrong_emotion_causes"]["reasoning"] == 0
    lo, hi = mixed["bootstrap_95"]["emotion_accuracy"]
    assert lo <= mixed["emotion_accuracy"] <= hi and hi - lo > 0.1
    table = _script("evaluate_demo_model").results_markdown({"num_clips": 12, "notes": [], "systems": {"gold": {"test": gold}, "mixed": {"test": mixed}}})
    assert "| … 95 % bootstrap interval | test | 100.0–100.0 | " in table
    assert f"{100 * lo:.1f}–{100 * hi:.1f}" in table


def test_the_evaluation_corpus_is_regenerated_when_its_size_differs(tmp_path):
    study = _script("demo_model_scores")
    first = study.eval_records(tmp_path, 4, 0)
    assert {k: len(v) for k, v in first.items()} == {"test": 2, "compositional": 2}
    stamp = (tmp_path / "data" / "test.parquet").stat().st_mtime_ns
    again = study.eval_records(tmp_path, 4, 0)  # same size: reused as it is
    assert [r["id"] for r in again["test"]] == [r["id"] for r in first["test"]]
    assert (tmp_path / "data" / "test.parquet").stat().st_mtime_ns == stamp
    bigger = study.eval_records(tmp_path, 6, 0)
    assert {k: len(v) for k, v in bigger.items()} == {"test": 3, "compositional": 3}
    assert [r["id"] for r in bigger["test"][:2]] == [r["id"] for r in first["test"]]  # same seed: a superset
    assert all(Path(r["path"]).is_file() for r in bigger["compositional"])


def test_the_reasoning_source_probe_tells_a_text_reasoner_from_a_media_reader(monkeypatch):
    """probe_reasoning_source.py gives each clip its reference cue text and asks for the readings with the clip's own
    media and with another clip's: a model that reasons over the text scores the same in both, one that reads the
    readings off the media loses them when the media are swapped."""
    from processing.data.synth.cues import recover_cues

    probe, study = _script("probe_reasoning_source"), _script("demo_model_scores")
    records = _records(30)
    clips = [{"subtitle": r["subtitle"], "record": r} for r in records]
    by_prefix = {r["explanation"].split("Overall,")[0]: r for r in records}

    def text_reasoner(model, processor, clip, prefix):
        return study.stated_readings(recover_cues(by_prefix[prefix[: -len("Overall,")]]["explanation"]))

    def media_reader(model, processor, clip, prefix):
        return study.stated_readings(recover_cues(clip["record"]["explanation"]))

    monkeypatch.setattr(probe, "readings_after", text_reasoner)
    follows_text = probe.probe(None, None, records, clips)
    assert all(v == 100.0 for cond in follows_text.values() for v in cond.values())
    monkeypatch.setattr(probe, "readings_after", media_reader)
    reads_media = probe.probe(None, None, records, clips)
    assert all(v == 100.0 for v in reads_media["own media"].values())
    assert all(v < 70.0 for v in reads_media["swapped media"].values())
