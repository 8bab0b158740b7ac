"""Modality attribution (`xemogpt explain --attribute`): the clip with all inputs and without each one, in one batched
generate call; per stated cue and for the emotion, the inputs whose removal takes it away."""

import json

import pytest

from processing.inference.attribution import ablations, attribute, compare, cue_key, format_text
from processing.cli import main
from processing.inference.explain import REPO_ROOT
from tests.media_fixtures import write_test_video

DEMO = REPO_ROOT / "examples" / "clips"
FULL = ("In the video, the person smiles, and the head moves up and down. In the audio, the speaker's voice is deep, "
        "and there is laughter. Overall, the face looks happy, and the words are positive, so the person is happy.")


@pytest.fixture(scope="module")
def demo(bundled_explainer):
    return attribute(bundled_explainer, DEMO / "demo.mp4", subtitle=(DEMO / "demo.txt").read_text().strip())


def test_a_cue_depends_on_the_inputs_whose_removal_takes_it_away_whatever_the_wording():
    without = {
        # the smile and the nod are gone; the deep voice is paraphrased, not gone
        "video": "In the video, the face is neutral. In the audio, the voice is low-pitched, and the person laughs. "
                 "Overall, the words are positive, so the person is happy.",
        # the laughter is gone and the emotion changes
        "audio": "In the video, the individual smiles, and the person nods. In the audio, the speaker speaks in a low "
                 "voice. Overall, the face looks happy, and the words are positive, so the person is sad.",
        "subtitle": FULL,  # nothing changes
    }
    result = compare(FULL, without, ["video", "audio", "subtitle"])
    depends = {cue["cue"]: cue["depends_on"] for cue in result.cues}
    assert depends["The person smiles."] == ["video"]
    assert depends["The person nods."] == ["video"]
    assert depends["The voice is low-pitched."] == []
    assert depends["There is laughter."] == ["audio"]
    assert depends["The face looks happy."] == ["video"]
    assert depends["The subtitle is positive."] == []
    assert result.emotion == "happy" and result.emotion_depends_on == ["audio"]
    assert result.summary()["video"] == ["The person smiles.", "The person nods.", "The face looks happy."]


def test_only_the_inputs_a_clip_has_are_removed():
    clip = {"frames": "F", "timestamps": "T", "audio": None, "subtitle": "Hello."}
    rows = ablations(clip)
    assert [name for name, _ in rows] == [None, "video", "subtitle"]
    assert rows[1][1]["frames"] is None and rows[1][1]["timestamps"] is None and rows[1][1]["subtitle"] == "Hello."
    assert rows[2][1]["subtitle"] == "" and rows[2][1]["frames"] == "F"
    assert cue_key("The Person  smiles.") == cue_key("the person smiles")


def test_all_rows_are_generated_in_one_batched_call(bundled_explainer, monkeypatch):
    calls = []
    generate = bundled_explainer.model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return generate(*args, **kwargs)

    monkeypatch.setattr(bundled_explainer.model, "generate", counting)
    result = attribute(bundled_explainer, DEMO / "demo.mp4", subtitle="Hello.", max_new_tokens=12)
    assert calls == [4]  # all inputs, no video, no audio, no subtitle
    assert set(result.without) == {"video", "audio", "subtitle"}


def test_on_the_demo_clip_the_smile_rests_on_the_video_and_the_laughter_on_the_audio(demo):
    truth = json.loads((DEMO / "demo.json").read_text())["cues"]
    depends = {cue["cue"]: cue["depends_on"] for cue in demo.cues}
    assert "The person smiles." in truth["visual"] and "There is laughter." in truth["auditory"]
    assert depends["The person smiles."] == ["video"]
    assert depends["There is laughter."] == ["audio"]
    assert "smiles" not in demo.without["video"]["explanation"]
    visual = [cue for cue in demo.cues if cue["category"] == "visual"]
    assert visual and all(cue["depends_on"] == ["video"] for cue in visual)


def test_cli_json_has_every_cue_with_its_modalities_and_the_emotion(capsys):
    code = main(["explain", str(DEMO / "demo.mp4"), "--subtitle", "Hello.", "--attribute", "--json",
                 "--max-new-tokens", "24"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(data) >= {"explanation", "emotion", "emotion_depends_on", "cues", "present", "without", "timings",
                         "subtitle", "subtitle_source"}
    assert data["present"] == ["video", "audio", "subtitle"] and set(data["without"]) == set(data["present"])
    assert data["cues"], data["explanation"]
    for cue in data["cues"]:
        assert set(cue) == {"category", "cue", "depends_on"} and set(cue["depends_on"]) <= set(data["present"])
    for other in data["without"].values():
        assert set(other) == {"explanation", "emotion", "cues"}


def test_cli_text_lists_each_cue_with_the_input_it_rests_on(capsys):
    code = main(["explain", str(DEMO / "demo.mp4"), "--subtitle", "Hello.", "--attribute", "--max-new-tokens", "24"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("which input each cue rests on"))
    assert any(line.split()[0] == "visual" and "<-" in line for line in lines[start + 1:])
    assert any(line.split()[0] == "emotion" for line in lines[start + 1:])


def test_a_clip_without_audio_is_attributed_over_video_and_subtitle_and_says_so(bundled_explainer, tmp_path):
    mute = write_test_video(tmp_path / "mute.mp4", seconds=2.0, audio=False)
    result = attribute(bundled_explainer, mute, subtitle="Hello.", max_new_tokens=16)
    assert result.present == ["video", "subtitle"] and set(result.without) == {"video", "subtitle"}
    assert any("no audio" in note and "nothing to remove" in note for note in result.notes)
    assert all(set(cue["depends_on"]) <= {"video", "subtitle"} for cue in result.cues)
    assert "emotion" in format_text(result)


@pytest.mark.parametrize("flag", [["--stream"], ["--do-sample"], ["--num-beams", "2"], ["--window", "8"]])
def test_attribute_refuses_sampling_beams_and_streaming_in_one_line(flag, capsys):
    code = main(["explain", str(DEMO / "demo.mp4"), "--attribute", *flag])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--attribute" in err[0]


def test_the_space_has_an_attribution_panel_with_a_row_per_cue_and_the_emotion(bundled_explainer):
    from tests.test_space import bag_of_words_embedder, load_space_module

    app, serving = load_space_module("app"), load_space_module("serving")
    demo = app.build_app(bundled_explainer, settings=serving.SpaceSettings(),
                         scorer=serving.ReferenceScorer(bag_of_words_embedder))
    assert "attribute" in {fn.api_name for fn in demo.fns.values()}
    handler = app.SpaceHandler(demo.xemogpt_model, serving.SpaceSettings(), serving.ReferenceScorer(bag_of_words_embedder))
    rows, details = list(handler.attribute(str(DEMO / "demo.mp4"), None, "Hello.", 24))[-1]
    assert rows[-1][0] == "emotion" and all(len(row) == 3 for row in rows)
    assert any(row[0] == "visual" and row[2] == "video" for row in rows), rows
    assert "Removed one at a time: video, audio, subtitle" in details


def test_the_model_card_states_the_measured_shares_from_attribution_json(tmp_path):
    from tests.file_modules import load_file_module

    script = load_file_module(REPO_ROOT / "examples" / "scripts", "demo_model_card")
    assert script.attribution_finding(tmp_path) == ""  # nothing measured: no line
    entry = lambda n, a, o, z: {"stated": n, "attributed_share": a, "only_share": o, "none_share": z}  # noqa: E731
    (tmp_path / "attribution.json").write_text(json.dumps({
        "corpus": {"splits": {"test": 120, "compositional": 80}},
        "overall": {"clips": 200,
                    "cues": {"visual cues": entry(900, 0.875, 0.8, 0.125), "auditory cues": entry(1200, 0.625, 0.6, 0.375),
                             "video readings": entry(10, 1.0, 1.0, 0.0)},
                    "emotion": {"emotion, rules F1-F5": entry(190, 0.81, 0.66, 0.1),
                                "emotion, rule F2": entry(30, 1.0, 1.0, 0.0)}},
        "by_cue": {"The voice is steady.": entry(100, 0.06, 0.06, 0.94), "The person smiles.": entry(80, 1.0, 1.0, 0.0)},
    }))
    line = " ".join(script.attribution_finding(tmp_path).split())
    assert "200 held-out clips (120 test, 80 compositional" in line
    assert "visual cues 87.5 % to the video" in line and "auditory cues 62.5 % to the audio" in line
    assert "decisive in 81.0 % of clips" in line and "F2 100.0 % (n=30)" in line
    assert "The voice is steady (94 %)" in line and "at least 100 % of clips" in line
