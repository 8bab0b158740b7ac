"""XEmoGPT Space: upload (or record) a short clip, get a cue-by-cue emotion explanation as it is written.

    python spaces_demo/app.py                         # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT apply)
    XEMOGPT_MODEL=path/or/hub-id python spaces_demo/app.py
    make space SPACE_DIR=DIR                          # the folder to upload: hf upload ORG/NAME DIR --repo-type space

The model: `$XEMOGPT_MODEL`, else in a checkout the bundled demo model, else (an assembled Space) the first Hub id of
README.md's `models:`, loaded through the Auto classes with the model repo's own code (`trust_remote_code`).

The API endpoint is `/explain` (gradio_client):

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    explanation, emotion, cues, frames, chart, scores, details = client.predict(
        handle_file("clip.mp4"), None, "Oh great.", api_name="/explain")

A clip longer than two windows (`timeline_window`, 8 s) is also explained window by window: `/timeline` streams its
strip chart (HTML with an SVG) and the timeline's JSON (windows, runs of one emotion, cue changes) as windows finish:

    chart_html, timeline = client.predict(handle_file("long.mp4"), None, "", api_name="/timeline")

`/attribute` explains the clip again without its video, audio and subtitle (one batch) and gives, per cue and for
the emotion, the inputs it rests on (rows [kind, cue, rests on]) and a markdown summary:

    rows, details = client.predict(handle_file("clip.mp4"), None, "Oh great.", api_name="/attribute")

Serving limits (upload size, clip length, time per request, concurrency, queue size) come from `SpaceSettings`
(environment variables `XEMOGPT_MAX_FILE_SIZE`, `XEMOGPT_MAX_CLIP_SECONDS`, ... see serving.py).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

if os.environ.get("SPACE_ID"):  # on a Space, ZeroGPU's `spaces` must be imported before torch
    try:
        import spaces  # noqa: F401
    except ImportError:
        pass

HERE = Path(__file__).resolve().parent
# From a checkout the repository root holds `processing/` and `modeling_xemogpt/`; on a Space they sit next to
# this file (or come from the installed package).
for _folder in (HERE, HERE.parent):
    if (_folder / "processing" / "explain.py").exists() and str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import gradio as gr  # noqa: E402

from processing.metrics.emocue360 import extract_emotion, parse_explanation  # noqa: E402
from processing.errors import XEmoGPTError  # noqa: E402
from processing.inference.timeline import explain_timeline  # noqa: E402
from processing.inference.timeline_chart import timeline_svg  # noqa: E402
from processing.inference.timeline_media import media_duration  # noqa: E402
from serving import (  # noqa: E402
    MODEL_ENV,
    ReferenceScorer,
    ServedModel,
    SpaceSettings,
    gpu_decorator,
    score_chart,
    score_table,
)

logger = logging.getLogger("xemogpt.space")

EXAMPLES_DIR = HERE / "examples"
TITLE = "XEmoGPT: explainable multimodal emotion recognition"
INTRO = (
    "Upload a short clip of one person (or record one with your webcam), add what they say, and XEmoGPT explains "
    "their emotion **cue by cue**: what the face and body show, what the voice sounds like, and the emotion these "
    "add up to. Paste a reference explanation to score the answer with **EmoCue-360**."
)

TIMELINE_PLACEHOLDER = "<p>Clips longer than {seconds:g} s are also explained window by window; the timeline shows here.</p>"


def _examples() -> list[list]:
    """Rows (video, audio, subtitle, reference) from spaces_demo/examples/examples.json, written by make_examples.py."""
    import json

    index = EXAMPLES_DIR / "examples.json"
    if not index.exists():
        return []
    rows = []
    for item in json.loads(index.read_text()):
        video = EXAMPLES_DIR / item["video"]
        if video.exists():
            rows.append([str(video), None, item["subtitle"], item["reference"]])
    return rows


def _user_message(error: Exception, *paths) -> str:
    """The error's one line, with gradio's temporary upload folders cut from the file names."""
    message = str(error)
    for path in paths:
        if path:
            message = message.replace(str(path), Path(path).name)
    return message


class SpaceHandler:
    """The `/explain` event: decode, show the frames, stream the explanation, then cues, emotion and scores; and the
    `/timeline` event: a long clip window by window."""

    def __init__(self, served: ServedModel, settings: SpaceSettings, scorer: ReferenceScorer):
        self.served = served
        self.settings = settings
        self.scorer = scorer

    def explain(self, video, audio=None, subtitle="", reference="", max_new_tokens=None, do_sample=False,
                 temperature=0.7, load_in_4bit=False):
        yield from self._user_errors(self._explain(video, audio, subtitle, reference, max_new_tokens, do_sample,
                                                   temperature, load_in_4bit), video, audio)

    def timeline(self, video, audio=None, subtitle="", max_new_tokens=None, do_sample=False, temperature=0.7,
                 load_in_4bit=False):
        """The `/timeline` event: for a clip longer than two windows, the strip chart and the timeline's JSON,
        updated as windows finish; for a shorter clip (or none) a line saying what it is for."""
        yield from self._user_errors(self._timeline(video, audio, subtitle, max_new_tokens, do_sample, temperature,
                                                    load_in_4bit), video, audio)

    def attribute(self, video, audio=None, subtitle="", max_new_tokens=None, load_in_4bit=False):
        """The `/attribute` event: the clip explained with all inputs and without each one (one batch, greedy);
        yields (rows [kind, cue, rests on], markdown)."""
        yield from self._user_errors(self._attribute(video, audio, subtitle, max_new_tokens, load_in_4bit), video, audio)

    def _attribute(self, video, audio, subtitle, max_new_tokens, load_in_4bit):
        from processing.inference.attribution import attribute

        if not video:
            raise gr.Error("Upload a video clip first, then press Attribute.", print_exception=False)
        duration = media_duration(video)
        if duration > self.settings.max_clip_seconds:
            raise gr.Error(f"The clip is {duration:.1f} s long; attribution takes clips up to "
                           f"{self.settings.max_clip_seconds:g} s.", print_exception=False)
        result = attribute(self.served.get(bool(load_in_4bit)), video, audio or None, subtitle or "",
                           max_new_tokens=int(max_new_tokens) if max_new_tokens else None)
        rows = [[cue["category"], cue["cue"], ", ".join(cue["depends_on"]) or "none"] for cue in result.cues]
        rows.append(["emotion", result.emotion or "(not stated)", ", ".join(result.emotion_depends_on) or "none"])
        lines = [f"Removed one at a time: {', '.join(result.present)}. A cue *rests on* an input when the explanation "
                 "without that input no longer states it; \"none\": stated without any one of them.",
                 *(f"Without {m}: emotion {w['emotion'] or '(not stated)'}." for m, w in result.without.items()),
                 *result.notes]
        if result.subtitle_source and result.subtitle_source != "given":
            lines.append(f"Subtitle ({result.subtitle_source}): “{result.subtitle}”")
        yield rows, self._markdown(lines)

    def _user_errors(self, events, video, audio):
        """The events of a handler, with its errors as one line in the page (never a bare traceback)."""
        try:
            yield from events
        except gr.Error:
            raise
        except XEmoGPTError as error:
            raise gr.Error(_user_message(error, video, audio), print_exception=False) from None
        except Exception as error:  # never a bare traceback in the page; the log keeps it
            logger.exception("request failed")
            raise gr.Error(f"Explaining this clip failed ({type(error).__name__}: {_user_message(error, video, audio)}). "
                           "Try another clip or fewer new tokens.") from None

    def _explain(self, video, audio, subtitle, reference, max_new_tokens, do_sample, temperature, load_in_4bit):
        started = time.monotonic()
        deadline = started + self.settings.request_timeout
        if not video:
            raise gr.Error("Upload a video clip (or record one with the webcam), then press Explain.",
                           print_exception=False)
        duration = media_duration(video)
        if duration > self.settings.max_clip_seconds:  # the /timeline event explains it, window by window
            self._refuse_if_too_long(duration)
            yield "", "", None, [], None, None, self._markdown([
                f"Model: {self.served.describe()}.",
                f"The clip is {duration:.1f} s long: it is explained window by window in the timeline below."])
            return
        explainer = self.served.get(bool(load_in_4bit))
        inputs, clip, _ = explainer.prepare(video, audio or None, subtitle or "")
        decoded = time.monotonic() - started
        frames = []
        if clip.frames is not None:
            frames = [(frame, f"{t:.2f} s") for frame, t in zip(clip.frames, clip.timestamps)]
        details = [f"Model: {self.served.describe()}.", *explainer.notes, *clip.notes]
        if clip.subtitle_source and clip.subtitle_source != "given":
            details.append(f"Subtitle ({clip.subtitle_source}): “{clip.subtitle}”")
        skip = gr.skip()
        yield "", "", None, frames, None, None, self._markdown(details + ["Generating…"])

        stream = explainer.stream_prepared(inputs, clip, deadline=deadline,
                                           max_new_tokens=int(max_new_tokens) if max_new_tokens else None,
                                           do_sample=bool(do_sample), temperature=temperature if do_sample else None)
        text = ""
        for text in stream:
            yield text.lstrip(), skip, skip, skip, skip, skip, skip
        text = text.strip()
        generated = time.monotonic() - started - decoded
        details.append(f"Decoded {len(frames)} frames in {decoded:.2f} s; generated the explanation in {generated:.1f} s.")
        if stream.timed_out:
            details.append(f"**Stopped at the {self.settings.request_timeout:g} s time limit: the explanation is cut short.**")
            gr.Warning(f"Stopped at the {self.settings.request_timeout:g} s time limit; the explanation is cut short.")
        cues = parse_explanation(text)
        emotion = extract_emotion(text) or ""
        chart, scores = None, None
        if (reference or "").strip():
            try:
                result = self.scorer.score(reference, cues)
                chart, scores = score_chart(result), score_table(result)
            except XEmoGPTError as error:
                details.append(f"EmoCue-360 not computed: {error}.")
                gr.Warning(f"EmoCue-360 not computed: {error}")
        yield text, emotion, cues, frames, chart, scores, self._markdown(details)

    def _refuse_if_too_long(self, duration):
        """A gr.Error for a clip longer than any this Space explains (as a timeline)."""
        if duration > self.settings.max_timeline_seconds:
            raise gr.Error(f"The clip is {duration:.1f} s long; this Space explains clips up to "
                           f"{self.settings.max_timeline_seconds:g} s. Trim it and upload it again.",
                           print_exception=False)

    def _timeline(self, video, audio, subtitle, max_new_tokens, do_sample, temperature, load_in_4bit):
        settings = self.settings
        try:
            duration = media_duration(video) if video else 0.0
        except XEmoGPTError:  # /explain says what is wrong with the file
            duration = 0.0
        if duration <= 2 * settings.timeline_window:
            yield TIMELINE_PLACEHOLDER.format(seconds=2 * settings.timeline_window), None
            return
        self._refuse_if_too_long(duration)
        stream = explain_timeline(self.served.get(bool(load_in_4bit)), video, window=settings.timeline_window,
                                  stride=settings.timeline_stride, audio=audio or None, subtitle=subtitle or "",
                                  deadline=time.monotonic() + settings.timeline_timeout,
                                  max_new_tokens=int(max_new_tokens) if max_new_tokens else None,
                                  do_sample=bool(do_sample), temperature=temperature if do_sample else None)
        data = stream.timeline.to_json()
        yield timeline_svg(data), data
        for _ in stream:
            data = stream.timeline.to_json()
            yield timeline_svg(data), data
        data = stream.timeline.to_json()
        if stream.timeline.timed_out:
            gr.Warning(f"Stopped at the {settings.timeline_timeout:g} s time limit after {len(data['windows'])} of "
                       f"{data['planned_windows']} windows.")
        yield timeline_svg(data), data

    @staticmethod
    def _markdown(lines) -> str:
        return "\n".join(f"* {line}" for line in lines)


def build_app(explainer=None, settings: SpaceSettings | None = None, scorer: ReferenceScorer | None = None) -> gr.Blocks:
    """The Space as a `gr.Blocks` (queue configured; launch it with `launch(demo, ...)`).

    `explainer`: an Explainer, a `(model, processor)` pair, a model folder / Hub id, or None for
    `$XEMOGPT_MODEL`, else the bundled demo model. `settings`: serving limits (default: from the environment).
    """
    settings = settings or SpaceSettings.from_env()
    try:
        served = ServedModel(explainer)
    except XEmoGPTError as error:  # e.g. the Hub id of the front matter is not published (yet)
        logger.error("no model to serve: %s", error)
        return unavailable_app(str(error), settings)
    handler = SpaceHandler(served, settings, scorer or ReferenceScorer())
    defaults = served.explainer.generation_defaults
    num_frames = served.explainer.processor.num_frames

    with gr.Blocks(title="XEmoGPT", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        banner = [f"Model: {served.describe()}."] + [f"⚠️ {note}" for note in served.explainer.notes]
        gr.Markdown("\n\n".join(banner), elem_id="model-banner")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Video clip", sources=["upload", "webcam"], include_audio=True, height=260,
                                 elem_id="video-input")
                audio = gr.Audio(label="Separate audio (optional; replaces the clip's own track)", type="filepath",
                                 sources=["upload", "microphone"], format=None, elem_id="audio-input")
                subtitle = gr.Textbox(label="Subtitle (what the person says)", lines=2,
                                      placeholder="e.g. Oh perfect, it's raining on my day off.",
                                      elem_id="subtitle-input")
                reference = gr.Textbox("", label="Reference explanation (optional, for EmoCue-360)", lines=3,
                                       placeholder="In the video, the person frowns. In the audio, ... Overall, ...",
                                       elem_id="reference-input")
                with gr.Accordion("Advanced settings", open=False):
                    max_new_tokens = gr.Slider(8, settings.max_new_tokens_limit, step=8, label="Max new tokens",
                                               value=min(defaults["max_new_tokens"], settings.max_new_tokens_limit))
                    do_sample = gr.Checkbox(label="Sample (instead of greedy decoding)", value=False)
                    temperature = gr.Slider(0.1, 1.5, value=0.7, step=0.05, label="Temperature (with sampling)")
                    load_in_4bit = gr.Checkbox(
                        label="4-bit language model (bitsandbytes)", value=False, interactive=served.can_quantize,
                        info=("loaded on first use" if served.can_quantize
                              else "needs bitsandbytes and a model folder or Hub id"))
                with gr.Row():
                    run = gr.Button("Explain", variant="primary", elem_id="explain-button")
                    clear = gr.ClearButton(value="Clear", elem_id="clear-button")
                examples = _examples()
                if examples:
                    gr.Examples(examples, inputs=[video, audio, subtitle, reference], label="EmoCue-Synth examples",
                                cache_examples=False)
            with gr.Column(scale=3):
                explanation = gr.Textbox(label="Explanation (streamed)", lines=8, max_lines=16, elem_id="explanation",
                                         buttons=["copy"])
                emotion = gr.Textbox(label="Predicted emotion", elem_id="emotion")
                cues = gr.JSON(label="Cues per modality (visual / auditory / emotional)", elem_id="cues", open=True)
                details = gr.Markdown(elem_id="details")
        frames = gr.Gallery(label=f"The {num_frames} frames the model saw, with their timestamps", columns=8,
                            height="auto", object_fit="contain", elem_id="frames")
        with gr.Accordion("Timeline: emotion over time (long clips)", open=True):
            timeline_chart = gr.HTML(TIMELINE_PLACEHOLDER.format(seconds=2 * settings.timeline_window),
                                     elem_id="timeline-chart")
            timeline_json = gr.JSON(label="Windows, runs of one emotion and cue changes", elem_id="timeline",
                                    open=False, max_height=300)
        with gr.Accordion("EmoCue-360 against your reference", open=True):
            with gr.Row():
                score_image = gr.Image(label="Precision / recall / F1 per category", show_label=False, type="pil",
                                       interactive=False, elem_id="score-chart")
                scores = gr.JSON(label="Scores, missed and invented cues", elem_id="scores", open=True, max_height=300)
        with gr.Accordion("Which input does each cue rest on? (modality attribution)", open=False):
            gr.Markdown("Explains the clip again without its video, without its audio and without its subtitle (one "
                        "batch, greedy) and shows, for each cue and for the emotion, the inputs whose removal takes "
                        "it away.")
            attribute_button = gr.Button("Attribute", elem_id="attribute-button")
            attribution = gr.Dataframe(headers=["kind", "cue", "rests on"], interactive=False,
                                       elem_id="attribution")
            attribution_details = gr.Markdown(elem_id="attribution-details")
        inputs = [video, audio, subtitle, reference, max_new_tokens, do_sample, temperature, load_in_4bit]
        outputs = [explanation, emotion, cues, frames, score_image, scores, details]
        clear.add([video, audio, subtitle, reference, *outputs, timeline_json])
        run.click(gpu_decorator(settings.request_timeout)(handler.explain), inputs, outputs, api_name="explain")
        run.click(gpu_decorator(settings.timeline_timeout)(handler.timeline),
                  [video, audio, subtitle, max_new_tokens, do_sample, temperature, load_in_4bit],
                  [timeline_chart, timeline_json], api_name="timeline")
        attribute_button.click(gpu_decorator(settings.request_timeout)(handler.attribute),
                               [video, audio, subtitle, max_new_tokens, load_in_4bit],
                               [attribution, attribution_details], api_name="attribute")

    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    demo.xemogpt_settings = settings
    demo.xemogpt_model = served
    return demo


def unavailable_app(reason: str, settings: SpaceSettings) -> gr.Blocks:
    """The page shown when the model cannot be loaded: it says so, instead of serving another (random) model."""
    with gr.Blocks(title="XEmoGPT") as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        gr.Markdown(f"⚠️ **This Space cannot explain clips right now: its model did not load.** {reason}. "
                    f"The Space's owner can name another model with the `{MODEL_ENV}` setting.",
                    elem_id="model-banner")
    demo.xemogpt_settings = settings
    demo.xemogpt_model = None
    return demo


def launch(demo: gr.Blocks, **kwargs):
    """`demo.launch` with the Space's upload cap; `kwargs` go to gradio (server_name, server_port, ...)."""
    kwargs.setdefault("max_file_size", demo.xemogpt_settings.max_file_size)
    return demo.launch(**kwargs)


def serve_locally(demo: gr.Blocks) -> str:
    """Launch on 127.0.0.1 at a free port without blocking (tests, screenshots); returns the page's URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return url


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    launch(build_app())  # gradio reads GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
