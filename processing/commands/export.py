"""`xemogpt export MODEL OUT`: a Hub-ready folder (safetensors, remote code + auto_map, processor, card)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write a Hub-ready model folder (and optionally push it)")
    parser.add_argument("model", help="an XEmoGPT folder (or Hub id)")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--repo-id", help="the Hub repo id named in the card (default: the --push-to-hub repo, else "
                                          "the model folder's name)")
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload the folder to this Hub repo")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--evaluation", help="EmoCue-360 JSON for the card's model-index: `xemogpt evaluate --json` "
                                             "output or evaluate_demo_model.py's evaluation.json (default: the "
                                             "model folder's evaluation.json, when it has one)")
    parser.add_argument("--evaluation-system", help="the system of an evaluation.json to report (default: the model "
                                                    "folder's name)")
    parser.add_argument("--eval-dataset", help="Hub id of the dataset the evaluation ran on (default: the first "
                                               "--dataset)")
    parser.add_argument("--description", default="", help="a paragraph for the card")
    parser.add_argument("--dataset", action="append", default=None,
                        help="training dataset id (repeatable; default: those of the model folder's card)")
    parser.add_argument("--base-model", action="append", default=None,
                        help="base model id (repeatable; default: that of the model folder's card)")
    parser.add_argument("--license", default=None, help="default: the model folder's card's, else apache-2.0")
    parser.add_argument("--max-shard-size", default="2GB")
    parser.set_defaults(func=run)


def run(args) -> int:
    import modeling_xemogpt  # noqa: F401
    from transformers import AutoModel, AutoProcessor

    from modeling_xemogpt.hub import save_pretrained_with_code

    from processing.errors import XEmoGPTError
    from processing.hub.model_card import config_base_models, load_evaluation, make_model_card, source_card_data

    try:
        model = AutoModel.from_pretrained(args.model)
        processor = AutoProcessor.from_pretrained(args.model)
    except OSError as exc:
        raise XEmoGPTError(f"cannot load model {args.model}: {str(exc).splitlines()[0]}") from exc
    source = Path(args.model)
    name = source.name if source.exists() else args.model.rstrip("/").split("/")[-1]
    repo_id = args.push_to_hub or args.repo_id or name
    known = source_card_data(source)
    evaluation_file = args.evaluation or (source / "evaluation.json" if (source / "evaluation.json").is_file() else None)
    evaluation = load_evaluation(evaluation_file, args.evaluation_system or name) if evaluation_file else None
    card = make_model_card(model, repo_id=repo_id, description=args.description, evaluation=evaluation,
                           eval_dataset=args.eval_dataset, datasets=args.dataset or known.get("datasets"),
                           base_models=args.base_model or known.get("base_model") or config_base_models(model.config),
                           license=args.license or known.get("license") or "apache-2.0", model_name=name)
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
