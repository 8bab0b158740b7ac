"""`xemogpt explain VIDEO`: a cue-by-cue emotion explanation of one clip."""

from __future__ import annotations

import argparse
import json
import sys


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain the emotion in one clip (video + optional audio + subtitle)",
        description="Write why the person feels what they feel, cue by cue, for one clip.",
    )
    parser.add_argument("video", help="video file (MP4, MKV, WebM, ...); an audio-only file is explained from its audio")
    parser.add_argument("--audio", help="separate audio file (default: the video's own audio track)")
    parser.add_argument("--subtitle", default="", help="what the person says (default: their speech, transcribed)")
    asr = parser.add_mutually_exclusive_group()
    asr.add_argument("--asr", metavar="MODEL",
                     help="speech-recognition model (Whisper Hub id or folder) that writes the subtitle when none is "
                          "given (default: $XEMOGPT_ASR_MODEL, else .cache/whisper-tiny.en from `make whisper`)")
    asr.add_argument("--no-asr", action="store_true", help="without --subtitle, explain without a subtitle")
    parser.add_argument("--model", help="model folder or Hub id (default: the bundled xemogpt-synth-tiny)")
    parser.add_argument("--max-new-tokens", type=_at_least_one, default=None)
    parser.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=_positive, default=None, help="with --do-sample (> 0)")
    parser.add_argument("--num-beams", type=_at_least_one, default=None, help="beam search (the text then comes in one piece)")
    parser.add_argument("--allow-untrained", action="store_true",
                        help="without --model and without the bundled model: run a random tiny model (noise)")
    parser.add_argument("--stream", action="store_true", help="print the explanation as it is generated")
    parser.add_argument("--attribute", action="store_true",
                        help="also explain the clip without its video, without its audio and without its subtitle (one "
                             "batch) and report which input each stated cue and the emotion depend on (greedy only)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (explanation, cues, emotion, timings)")
    from .explain_timeline import add_arguments as add_timeline_arguments

    add_timeline_arguments(parser)
    quant = parser.add_mutually_exclusive_group()
    quant.add_argument("--load-in-4bit", action="store_true", help="quantize the language model to 4-bit (bitsandbytes)")
    quant.add_argument("--load-in-8bit", action="store_true", help="quantize the language model to 8-bit (bitsandbytes)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from processing.errors import XEmoGPTError
    from processing.inference.explain import Explainer

    if args.attribute and (args.stream or args.do_sample or (args.num_beams or 1) > 1):
        raise XEmoGPTError("--attribute compares greedy explanations generated in one batch: drop --stream, "
                           "--do-sample and --num-beams")
    if args.attribute and (args.window is not None or args.stride is not None or args.subtitle_file):
        raise XEmoGPTError("--attribute explains one clip: drop --window, --stride and --subtitle-file")
    explainer = Explainer.load(args.model, load_in_4bit=args.load_in_4bit, load_in_8bit=args.load_in_8bit,
                               allow_untrained=args.allow_untrained)
    from .explain_timeline import run_timeline, wants_timeline

    if wants_timeline(args):
        return run_timeline(args, explainer)
    if not args.subtitle.strip():
        from processing.inference.asr import NO_MODEL_NOTE, resolve

        explainer.transcriber = resolve(args.asr, args.no_asr)
        if explainer.transcriber is None and not args.no_asr:
            explainer.no_transcriber_note = NO_MODEL_NOTE
    generation = {
        "max_new_tokens": args.max_new_tokens,
        "do_sample": args.do_sample or None,
        "temperature": args.temperature,
        "num_beams": args.num_beams,
    }
    if args.attribute:
        return _attribute(explainer, args, generation)
    if args.stream and not args.json:
        shown = 0
        stream = explainer.explain_stream(args.video, args.audio, args.subtitle, **generation)
        for text in stream:
            sys.stdout.write(text[shown:])
            sys.stdout.flush()
            shown = len(text)
        sys.stdout.write("\n")
        result = stream.result
    else:
        result = explainer.explain(args.video, args.audio, args.subtitle, **generation)

    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if not args.stream:
        print(result.explanation)
    print()
    if result.subtitle_source and result.subtitle_source != "given":
        print(f"subtitle ({result.subtitle_source}): {result.subtitle}")
    for category in ("visual", "auditory", "emotional"):
        cues = result.cues.get(category) or []
        print(f"{category} cues: " + ("; ".join(cues) if cues else "(none)"))
    print(f"emotion: {result.emotion or '(not stated)'}")
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    print(f"time: {timings}", file=sys.stderr)
    return 0


def _attribute(explainer, args, generation) -> int:
    from processing.inference.attribution import attribute, format_text

    result = attribute(explainer, args.video, args.audio, args.subtitle, max_new_tokens=generation["max_new_tokens"])
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(result.explanation)
    print()
    if result.subtitle_source and result.subtitle_source != "given":
        print(f"subtitle ({result.subtitle_source}): {result.subtitle}")
    print(format_text(result))
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    print(f"time: {timings}", file=sys.stderr)
    return 0
