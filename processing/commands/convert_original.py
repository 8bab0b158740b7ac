"""`xemogpt convert-original CKPT OUT --vision DIR --audio DIR --text DIR`: the published checkpoint -> our format."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert-original",
        help="convert the published XEmoGPT checkpoint (torch.save state dict) to a Hub-ready folder",
    )
    parser.add_argument("checkpoint", help="the published .pth/.bin/.safetensors (full or trainable-only)")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--vision", required=True, help="CLIP checkpoint (folder or Hub id), e.g. openai/clip-vit-large-patch14")
    parser.add_argument("--audio", required=True, help="HuBERT checkpoint, e.g. TencentGameMate/chinese-hubert-large")
    parser.add_argument("--text", required=True, help="LLM checkpoint, e.g. Qwen/Qwen3-4B")
    lora = parser.add_mutually_exclusive_group()
    lora.add_argument("--merge-lora", dest="merge_lora", action="store_true", default=True,
                      help="merge LoRA into the weights in float32, W + B·A·alpha/r (default)")
    lora.add_argument("--keep-adapter", dest="merge_lora", action="store_false",
                      help="keep LoRA as a PEFT adapter in OUT/adapter (applied by from_pretrained on every route)")
    parser.add_argument("--lora-alpha", type=float, default=512.0,
                        help="LoRA alpha used in training (paper: 512); the checkpoint does not store it, the rank is "
                             "read off its shapes, and both are written to conversion_report.json")
    parser.add_argument("--allow-unmapped", action="store_true", help="convert even if some keys have no place")
    parser.add_argument("--prompt-style", choices=["original", "chat"], default="original")
    parser.set_defaults(func=run)


def run(args) -> int:
    from modeling_xemogpt.convert_original import ConversionError, convert_original

    from processing.errors import XEmoGPTError

    try:
        report = convert_original(
            args.checkpoint, args.out, vision=args.vision, audio=args.audio, text=args.text,
            lora_alpha=args.lora_alpha, merge_lora=args.merge_lora, allow_unmapped=args.allow_unmapped,
            prompt_style=args.prompt_style,
        )
    except ConversionError as exc:
        raise XEmoGPTError(f"{args.checkpoint}: {exc}") from exc
    print(json.dumps(report.summary(), indent=2))
    return 0
