"""Cue extractors: explanation text → ``{"visual": [...], "auditory": [...], "emotional": [...]}``.

Chosen by a spec string (:func:`get_extractor`):

* ``rule`` (default): :func:`processing.metrics.emocue360.rules.parse_explanation`, deterministic and offline.
* ``hf:DIR``: a local causal LM (transformers) prompted one-shot, like the published extractor; the reply's JSON
  is validated and the generation retried (sampling) up to ``retries`` times, then ``fallback`` applies.
* ``openai:BASE_URL``: any OpenAI-compatible ``/chat/completions`` server (stdlib ``urllib``), a thread pool,
  retries with exponential backoff, and an on-disk cache keyed by sha256(model, prompt, text) so that a
  re-run costs nothing. An unreachable server stops the run with one clear error; replies already received
  stay cached.

Every extractor has ``extract(texts: Mapping[id, str]) -> dict[id, cue set]`` and ``notes`` (a list of
remarks such as fallbacks) and ``name``.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from processing.errors import XEmoGPTError
from .cues import CATEGORIES
from .rules import parse_explanation

SYSTEM_PROMPT = (
    "You will read a description of a person's emotional state in a video clip. It mixes what is seen, what is "
    "heard and what is inferred. Rewrite it as JSON with exactly three keys: \"visual\" (what is seen: face, "
    "gestures, scene), \"auditory\" (what is heard: voice, tone, pace, laughter, and what is said) and "
    "\"emotional\" (feelings, moods and inferences). Each value is a list of short, atomic statements, one fact "
    "each. Answer with the JSON object only."
)
EXAMPLE_INPUT = (
    "In the video, a man sits at a desk; his brows are furrowed and he shakes his head slowly. In the audio, "
    "his voice is low and slow, with a long sigh, and he says \"I can't do this again.\" Overall, the furrowed "
    "brows, the sigh and his words suggest he is frustrated and tired."
)
EXAMPLE_OUTPUT = {
    "visual": ["A man sits at a desk.", "His brows are furrowed.", "He shakes his head slowly."],
    "auditory": ["His voice is low.", "He speaks slowly.", "He sighs deeply.",
                 "He says: \"I can't do this again.\""],
    "emotional": ["He is frustrated.", "He seems tired.", "The sigh and his words express discouragement."],
}


def build_messages(explanation: str) -> list[dict[str, str]]:
    """The one-shot chat prompt for one explanation (system: task + example; user: the explanation)."""
    system = (f"{SYSTEM_PROMPT}\n\nEXAMPLE INPUT:\n{EXAMPLE_INPUT}\n\nEXAMPLE JSON OUTPUT:\n"
              f"{json.dumps(EXAMPLE_OUTPUT, indent=2)}")
    return [{"role": "system", "content": system}, {"role": "user", "content": str(explanation)}]


def parse_cue_json(reply: str) -> dict[str, list[str]] | None:
    """The cue set in a model reply (the first balanced ``{…}`` that parses), or None when it is not valid:
    an object with at least one of the three keys, each present key a list of strings."""
    if not isinstance(reply, str):
        return None
    start = reply.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for end in range(start, len(reply)):
            char = reply[end]
            if in_string:
                escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
            elif char == '"':
                in_string = True
            elif char in "{}":
                depth += 1 if char == "{" else -1
                if depth == 0:
                    cues = _validated(reply[start:end + 1])
                    if cues is not None:
                        return cues
                    break
        start = reply.find("{", start + 1)
    return None


def _validated(candidate: str) -> dict[str, list[str]] | None:
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not any(key in data for key in CATEGORIES):
        return None
    cues = {}
    for category in CATEGORIES:
        items = data.get(category, [])
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            return None
        cues[category] = [item.strip() for item in items if item.strip()]
    return cues


class ExtractorError(XEmoGPTError):
    """A cue extractor that cannot run (bad spec, unreachable server, unusable model, invalid replies)."""


class RuleExtractor:
    """Deterministic, offline: :func:`parse_explanation` per text."""

    name = "rule"

    def __init__(self):
        self.notes: list[str] = []

    def extract(self, texts: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
        return {key: parse_explanation(text) for key, text in texts.items()}


class _RetryingExtractor:
    """Shared fallback handling: after ``retries`` invalid replies, use the rule extractor or raise."""

    def __init__(self, retries: int, fallback: str):
        if fallback not in ("rule", "error"):
            raise ExtractorError(f"fallback must be 'rule' or 'error', got {fallback!r}")
        self.retries, self.fallback = max(0, int(retries)), fallback
        self.notes: list[str] = []
        self.fallbacks: list[str] = []
        self._lock = threading.Lock()

    def _fall_back(self, key: str, text: str, tries: int) -> dict[str, list[str]]:
        if self.fallback == "error":
            raise ExtractorError(f"{self.name}: no valid cue JSON for id {key!r} after {tries} tries "
                                 "(use a stronger model, raise the retries, or allow the rule fallback)")
        with self._lock:
            self.fallbacks.append(key)
        return parse_explanation(text)

    def _fallback_note(self, total: int) -> None:
        if self.fallbacks:
            self.notes.append(f"{self.name}: {len(self.fallbacks)} of {total} explanation(s) gave no valid JSON after "
                              f"{self.retries + 1} tries and were parsed by the rule extractor instead "
                              f"(e.g. {', '.join(map(repr, self.fallbacks[:3]))})")


class HFExtractor(_RetryingExtractor):
    """A local causal LM (a transformers folder) asked for the cue JSON; retried with sampling when invalid."""

    def __init__(self, model_dir: str, *, max_new_tokens: int = 512, retries: int = 2, fallback: str = "rule",
                 temperature: float = 0.7, seed: int = 0, device: str | None = None, show_progress: bool | None = None):
        super().__init__(retries, fallback)
        self.name = f"hf:{model_dir}"
        if not os.path.isdir(model_dir):
            raise ExtractorError(f"hf extractor: {model_dir} is not a folder (give a local transformers model "
                                 "folder: hf:/path/to/model)")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - a folder transformers cannot load is a user error
            raise ExtractorError(f"hf extractor: cannot load a causal LM from {model_dir}: "
                                 f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None
        if device:
            self.model.to(device)
        self.model.eval()
        self.max_new_tokens, self.temperature, self.seed = max_new_tokens, temperature, seed
        self.show_progress = show_progress

    def prompt(self, explanation: str) -> str:
        messages = build_messages(explanation)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return "".join(f"{m['role'].capitalize()}:\n{m['content']}\n\n" for m in messages) + "Assistant:\n"

    def generate(self, prompt: str, attempt: int) -> str:
        """One reply; attempt 0 is greedy, later attempts sample (seeded by ``seed + attempt``)."""
        import torch

        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        options = {"max_new_tokens": self.max_new_tokens, "pad_token_id": pad, "do_sample": attempt > 0}
        if attempt > 0:
            torch.manual_seed(self.seed + attempt)
            options.update(temperature=self.temperature, top_p=0.95)
        with torch.inference_mode():
            output = self.model.generate(**inputs, **options)
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def extract_one(self, key: str, text: str) -> dict[str, list[str]]:
        prompt = self.prompt(text)
        for attempt in range(self.retries + 1):
            cues = parse_cue_json(self.generate(prompt, attempt))
            if cues is not None:
                return cues
        return self._fall_back(key, text, self.retries + 1)

    def extract(self, texts: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
        from tqdm.auto import tqdm

        show = self.show_progress if self.show_progress is not None else len(texts) >= 20
        out = {key: self.extract_one(key, text)
               for key, text in tqdm(texts.items(), desc="extracting cues", disable=not show, unit="text")}
        self._fallback_note(len(texts))
        return out


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "xemogpt", "emocue360-extractions")


class _Unreachable(Exception):
    pass


class OpenAIExtractor(_RetryingExtractor):
    """An OpenAI-compatible chat-completions server; cached, concurrent, retried.

    base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended unless already there).
    api_key: sent as a Bearer token; default: the ``api_key_env`` environment variable (if set).
    retries: extra tries per text, for network errors, HTTP 429/5xx and replies without valid JSON,
        with exponential backoff (``backoff`` × 2^k seconds, jittered).
    cache_dir: one small JSON file per (model, prompt, text); only valid extractions are stored.
    """

    def __init__(self, base_url: str, *, model: str = "deepseek-chat", api_key: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8, retries: int = 3, backoff: float = 0.5,
                 timeout: float = 60.0, cache_dir: str | None = None, fallback: str = "rule",
                 json_mode: bool = True, temperature: float | None = None, show_progress: bool | None = None):
        super().__init__(retries, fallback)
        if not base_url.startswith(("http://", "https://")):
            raise ExtractorError(f"openai extractor: {base_url!r} is not an http(s) URL "
                                 "(e.g. openai:http://127.0.0.1:8000/v1)")
        self.name = f"openai:{base_url}"
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model, self.concurrency, self.backoff, self.timeout = model, max(1, int(concurrency)), backoff, timeout
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.cache_dir = cache_dir or default_cache_dir()
        self.json_mode, self.temperature, self.show_progress = json_mode, temperature, show_progress
        self.cache_hits = 0
        self._abort = threading.Event()

    # -- cache --------------------------------------------------------------------------------------
    def cache_key(self, text: str) -> str:
        payload = json.dumps([self.model, build_messages(""), str(text)], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> str:
        return os.path.join(self.cache_dir, key[:2], key + ".json")

    def cached(self, text: str) -> dict[str, list[str]] | None:
        path = self._cache_path(self.cache_key(text))
        try:
            with open(path, encoding="utf-8") as handle:
                return _validated(handle.read())
        except (OSError, ValueError):
            return None

    def _store(self, text: str, cues: dict) -> None:
        path = self._cache_path(self.cache_key(text))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(cues, handle, ensure_ascii=False)
        os.replace(tmp, path)

    # -- requests -----------------------------------------------------------------------------------
    def request(self, text: str) -> str:
        """One chat-completions call; returns the reply text. Raises _Unreachable, or HTTPError/ValueError."""
        body = {"model": self.model, "messages": build_messages(text)}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Unreachable(str(reason) or type(reason).__name__) from None
        try:
            return data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ValueError("reply without choices[0].message.content") from None

    def extract_one(self, key: str, text: str) -> dict[str, list[str]] | None:
        """Cached or fetched cues; None when the run was aborted."""
        cues = self.cached(text)
        if cues is not None:
            with self._lock:
                self.cache_hits += 1
            return cues
        last_error = ""
        for attempt in range(self.retries + 1):
            if self._abort.is_set():
                return None
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (1 + 0.25 * random.random()))
            try:
                cues = parse_cue_json(self.request(text))
            except _Unreachable as exc:
                last_error = f"cannot reach {self.url} ({exc})"
                continue
            except urllib.error.HTTPError as exc:
                last_error = f"{self.url} answered HTTP {exc.code} {exc.reason}"
                if exc.code not in (408, 409, 425, 429) and exc.code < 500:
                    break  # a request the server will never accept (bad key, unknown model, bad URL)
                continue
            except ValueError as exc:
                last_error = f"{self.url}: {exc}"
                continue
            if cues is not None:
                self._store(text, cues)
                return cues
            last_error = ""
        if last_error:
            self._abort.set()
            raise ExtractorError(f"openai extractor: {last_error} for id {key!r} after {attempt + 1} tries")
        return self._fall_back(key, text, self.retries + 1)

    def extract(self, texts: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
        from tqdm.auto import tqdm

        self._abort.clear()
        out: dict[str, dict[str, list[str]]] = {}
        errors: list[ExtractorError] = []
        show = self.show_progress if self.show_progress is not None else len(texts) >= 50
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            futures = {pool.submit(self.extract_one, key, text): key for key, text in texts.items()}
            for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures), desc="extracting cues",
                               disable=not show, unit="text"):
                try:
                    cues = future.result()
                except ExtractorError as exc:
                    errors.append(exc)
                    continue
                if cues is not None:
                    out[futures[future]] = cues
        if errors:
            done = len(out)
            raise ExtractorError(f"{errors[0]}; {done} of {len(texts)} extraction(s) are done and cached in "
                                 f"{self.cache_dir}: fix the server or --extractor and rerun to continue")
        if self.cache_hits:
            self.notes.append(f"{self.name}: {self.cache_hits} of {len(texts)} extraction(s) came from the cache")
        self._fallback_note(len(texts))
        return out


def get_extractor(spec: str = "rule", **options):
    """An extractor from a spec string: ``rule``, ``hf:DIR`` or ``openai:BASE_URL``; options go to its class."""
    spec = (spec or "rule").strip()
    kind, _, target = spec.partition(":")
    if kind == "rule" and not target:
        return RuleExtractor()
    if kind == "hf" and target:
        return HFExtractor(target, **options)
    if kind == "openai" and target:
        return OpenAIExtractor(target, **options)
    raise ExtractorError(f"unknown cue extractor {spec!r}: use 'rule', 'hf:/path/to/model' or "
                         "'openai:http://host:port/v1'")
