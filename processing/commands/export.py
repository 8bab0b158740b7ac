"""`xemogpt export MODEL OUT`: a Hub-ready folder (safetensors, remote code + auto_map, processor, card)."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write a Hub-ready model folder (and optionally push it)")
    parser.add_argument("model", help="an XEmoGPT folder (or Hub id)")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--repo-id", help="the Hub repo id named in the card (default: the folder name)")
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the folder to this Hub repo")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--evaluation", help="EmoCue-360 JSON (`xemogpt evaluate --json`) for the card's model-index")
    parser.add_argument("--description", default="", help="a paragraph for the card")
    parser.add_argument("--dataset", action="append", default=None, help="training dataset id (repeatable)")
    parser.add_argument("--base-model", action="append", default=None, help="base model id (repeatable)")
    parser.add_argument("--license", default="apache-2.0")
    parser.add_argument("--max-shard-size", default="2GB")
    parser.set_defaults(func=run)


def run(args) -> int:
    import modeling_xemogpt  # noqa: F401
    from transformers import AutoModel, AutoProcessor

    from modeling_xemogpt.hub import save_pretrained_with_code

    from ..errors import XEmoGPTError
    from ..model_card import load_evaluation, make_model_card

    try:
        model = AutoModel.from_pretrained(args.model)
        processor = AutoProcessor.from_pretrained(args.model)
    except OSError as exc:
        raise XEmoGPTError(f"cannot load model {args.model}: {str(exc).splitlines()[0]}") from exc
    repo_id = args.push_to_hub or args.repo_id or args.out.rstrip("/").split("/")[-1]
    evaluation = load_evaluation(args.evaluation) if args.evaluation else None
    card = make_model_card(model, repo_id=repo_id, description=args.description, evaluation=evaluation,
                           datasets=args.dataset, base_models=args.base_model, license=args.license)
    folder = save_pretrained_with_code(model, processor, args.out, max_shard_size=args.max_shard_size,
                                       extra_files={"README.md": str(card)})
    print(f"wrote {folder}")
    if args.push_to_hub:
        from huggingface_hub import HfApi

        try:
            api = HfApi()
            api.create_repo(args.push_to_hub, private=args.private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=args.push_to_hub)
        except Exception as exc:  # offline, auth, ...: the local folder is complete either way
            raise XEmoGPTError(f"push to {args.push_to_hub} failed ({str(exc).splitlines()[0]}); the folder {folder} is complete") from exc
        print(f"pushed to {args.push_to_hub}")
    return 0
