"""The Space's timeline of a long upload: `/timeline` streams the strip chart and the timeline's JSON window by
window, `/explain` points to it, and a short clip keeps its one explanation (served in-process, tiny random model)."""

import pytest

from tests.test_space import CLIP, start_space, tiny_explainer


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    demo, url = start_space(tiny_explainer(max_new_tokens=8), max_clip_seconds=20.0, max_timeline_seconds=120.0,
                            timeline_window=8.0, timeline_stride=4.0)
    yield Client(url, verbose=False, download_files=False)
    demo.close()


@pytest.fixture(scope="module")
def long_clip_path(tmp_path_factory):
    from processing.data.synth.long_clip import long_clip

    path = tmp_path_factory.mktemp("space-long") / "long.mp4"
    long_clip([("happy", 10.0), ("sad", 8.0), ("angry", 6.0)], path, seed=1, size=64, fps=8)
    return path


def test_a_long_upload_streams_its_timeline_window_by_window(client, long_clip_path):
    from gradio_client import handle_file

    job = client.submit(handle_file(str(long_clip_path)), None, "", api_name="/timeline")
    chart, timeline = job.result(timeout=120)
    assert [(w["start"], w["end"]) for w in timeline["windows"]] == [(0, 8), (4, 12), (8, 16), (12, 20), (16, 24)]
    assert timeline["planned_windows"] == 5 and not timeline["timed_out"]
    assert chart.startswith("<svg") and chart.count('class="run"') == len(timeline["runs"]) >= 1
    assert chart.count('class="cue-change"') == len(timeline["cue_changes"])
    shown = [output[1]["windows"] for output in job.outputs() if output[1] is not None]
    counts = [len(windows) for windows in shown]
    assert counts[0] == 0 and counts[-1] == 5 and counts == sorted(counts) and len(set(counts)) >= 3


def test_explain_points_a_long_upload_to_the_timeline(client, long_clip_path):
    from gradio_client import handle_file

    explanation, emotion, cues, frames, _, _, details = client.predict(
        handle_file(str(long_clip_path)), None, "", api_name="/explain")
    assert explanation == "" and frames == []
    assert "24.0 s long: it is explained window by window in the timeline below" in details


def test_a_short_clip_gets_no_timeline_and_its_one_explanation(client):
    from gradio_client import handle_file

    chart, timeline = client.predict(handle_file(str(CLIP)), None, "", api_name="/timeline")
    assert timeline is None and "Clips longer than 16 s" in chart
    explanation, *_ = client.predict(handle_file(str(CLIP)), None, "", api_name="/explain")
    assert explanation
