"""EmoCue-360: published semantics (parity with a plain re-implementation), subtitle filters, bad input,
cue extractors (rule, hf: with a tiny random model, openai: with a local server), emotion labels, CLI, reports."""

from __future__ import annotations

import http.server
import json
import os
import random
import threading
import warnings

import numpy as np
import pytest

from processing.cli import main as cli_main
from processing.metrics.emocue360 import (
    CATEGORIES,
    EmoCue360,
    EmoCue360Warning,
    ExtractorError,
    HFExtractor,
    OpenAIExtractor,
    emotion_scores,
    evaluate,
    extract_emotion,
    is_subtitle_cue,
    is_subtitle_cue_paper,
    load_cue_file,
    load_embedder,
    normalize_emotion,
    parse_cue_json,
    parse_explanation,
    score_cues,
    write_report,
)
from processing.errors import DatasetError, XEmoGPTError
from processing.metrics.emocue360.emotions import CUE_EMOTION_WORDS, EMOTION_NOUNS, EMOTION_SYNONYMS
from tests.clean_env import free_port


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return load_embedder()


# ------------------------------------------------------------------------------------------ parity


def plain_emocue360(model, references, predictions, drop, categories=CATEGORIES):
    """ARCHITECTURE.md §4 written as plainly as possible: a loop per sample, cues encoded per sample."""
    per_sample = {}
    for category in categories:
        for sample_id, pred in predictions.items():
            if sample_id not in references:
                continue
            ref = references[sample_id]
            if category == "emotional" and "emotional" not in pred:
                per_sample[(sample_id, category)] = (0.0, 0.0, 0.0)
                continue
            ref_cues = list(ref.get(category, []))
            pred_cues = list(pred.get(category, []))
            if category == "auditory":
                ref_cues = [cue for cue in ref_cues if not drop(cue)]
                pred_cues = [cue for cue in pred_cues if not drop(cue)]
            if len(ref_cues) == 0:
                continue
            if len(pred_cues) == 0:
                per_sample[(sample_id, category)] = (0.0, 0.0, 0.0)
                continue
            a = np.asarray(model.encode(ref_cues), dtype=np.float64)
            b = np.asarray(model.encode(pred_cues), dtype=np.float64)
            a = a / np.linalg.norm(a, axis=1, keepdims=True)
            b = b / np.linalg.norm(b, axis=1, keepdims=True)
            similarity = a @ b.T
            recall = similarity.max(axis=1).mean()
            precision = similarity.max(axis=0).mean()
            f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
            per_sample[(sample_id, category)] = (precision, recall, f1)
    corpus = {}
    for category in categories:
        rows = [v for (_, c), v in per_sample.items() if c == category]
        corpus[category] = {"precision": sum(r[0] for r in rows) / len(rows), "recall": sum(r[1] for r in rows) / len(rows),
                            "f1": sum(r[2] for r in rows) / len(rows), "n": len(rows)}
    return corpus, per_sample


POOL = {
    "visual": ["The woman smiles.", "Her brows are raised.", "He frowns deeply.", "The man nods twice.",
               "The texture of the wall is rough.", "Her eyes are wide open.", "Elle sourit 😊", "她在微笑",
               "The context is a crowded office.", "He looks away from the camera."],
    "auditory": ["Her voice is loud.", "Subtitle text: 'Then let's meet, okay?'", "The tone is calm.",
                 "The context of the call sounds tense.", "A rough texture in his voice.", "Text of the subtitle.",
                 "She says \"goodbye\" quietly.", "He laughs briefly.", "The pitch rises at the end.",
                 "Naïve, très calme — the voice is soft.", "The subtitle reads: fine."],
    "emotional": ["She is happy.", "He seems annoyed.", "The person is worried about the news.", "Calm overall.",
                  "The context suggests anticipation.", "Il est triste.", "She is afraid of the answer."],
}


def edge_case_corpus(n: int = 52, seed: int = 7):
    """References and predictions with empty lists, missing keys, 'text'/'context'/'texture' cues,
    duplicates, unicode, an empty-string cue, and ids on one side only."""
    rng = random.Random(seed)
    references, predictions = {}, {}
    for index in range(n):
        ref, pred = {}, {}
        for category in CATEGORIES:
            roll = rng.random()
            if roll < 0.1:
                ref[category] = []
            elif roll < 0.15:
                pass  # missing reference key
            else:
                ref[category] = [rng.choice(POOL[category]) for _ in range(rng.randint(1, 4))]
            roll = rng.random()
            if roll < 0.1:
                pred[category] = []
            elif roll < 0.18:
                pass  # missing prediction key (emotional: counts 0/0/0)
            else:
                cues = [rng.choice(POOL[category]) for _ in range(rng.randint(1, 4))]
                if rng.random() < 0.3:
                    cues += cues[:1]  # duplicate
                pred[category] = cues
        if index == 3:
            pred["visual"] = ["", "The woman smiles."]
        references[f"s{index:03d}"], predictions[f"s{index:03d}"] = ref, pred
    references["only_ref"] = {"visual": ["x"]}
    predictions["only_pred"] = {"visual": ["y"]}
    return references, predictions


def test_paper_mode_equals_a_plain_reimplementation_on_edge_cases(model):
    references, predictions = edge_case_corpus()
    with pytest.warns(EmoCue360Warning, match="only in the references"):
        result = EmoCue360(model, compat="paper").score(references, predictions)
    expected, per_sample = plain_emocue360(model, references, predictions, lambda cue: "text" in cue)
    for category in CATEGORIES:
        ours = result.categories[category]
        assert ours.n == expected[category]["n"] > 0
        for metric in ("precision", "recall", "f1"):
            assert getattr(ours, metric) == pytest.approx(expected[category][metric], abs=1e-6)
    assert len(result.samples) == len(per_sample)
    for sample in result.samples:
        assert (sample.precision, sample.recall, sample.f1) == pytest.approx(per_sample[(sample.id, sample.category)],
                                                                            abs=1e-6)


def test_default_mode_differs_from_paper_only_in_the_subtitle_filter(model):
    references, predictions = edge_case_corpus(n=24, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmoCue360Warning)
        result = EmoCue360(model).score(references, predictions)
        paper = EmoCue360(model, compat="paper").score(references, predictions)
    expected, _ = plain_emocue360(model, references, predictions, is_subtitle_cue, categories=("auditory",))
    for metric in ("precision", "recall", "f1", "n"):
        assert getattr(result.categories["auditory"], metric) == pytest.approx(expected["auditory"][metric], abs=1e-6)
    for category in ("visual", "emotional"):
        assert result.categories[category] == paper.categories[category]
    assert result.categories["auditory"] != paper.categories["auditory"]


# ------------------------------------------------------------------------------------------ semantics


@pytest.mark.parametrize("cue, paper, default", [
    ("Subtitle text: 'Then let's meet.'", True, True),
    ("The context of the call sounds tense.", True, False),
    ("Her voice has a rough texture.", True, False),
    ("The subtitle reads \"fine\".", False, True),
    ("She says she is fine.", False, True),
    ("Text of the subtitle.", False, True),
    ("He states that he is fine.", False, True),
    ("The line is delivered flatly.", False, True),
    ("Her voice is in a calm emotional state.", False, False),
    ("She's laughing loudly.", False, False),
    ("A flat line of pitch.", False, False),
])
def test_subtitle_filters(cue, paper, default):
    assert is_subtitle_cue_paper(cue) is paper
    assert is_subtitle_cue(cue) is default


def test_no_predicted_cues_scores_zero_and_missing_emotional_key_counts_even_with_empty_reference(model):
    references = {"a": {"visual": ["The woman smiles."], "auditory": ["Loud voice."], "emotional": []}}
    predictions = {"a": {"visual": [], "auditory": ["Loud voice."]}}
    result = score_cues(references, predictions, embedder=model)
    assert result.categories["visual"].to_dict() == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n": 1}
    assert result.categories["auditory"].f1 == pytest.approx(1.0, abs=1e-6)
    assert result.categories["emotional"].to_dict() == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n": 1}


def test_skipped_categories_have_no_score(model):
    result = score_cues({"a": {"visual": ["A smile."], "auditory": ["Subtitle: hi"], "emotional": []}},
                        {"a": {"visual": ["A smile."], "auditory": ["x"], "emotional": ["Happy."]}}, embedder=model)
    assert result.categories["auditory"].to_dict() == {"precision": None, "recall": None, "f1": None, "n": 0}
    assert result.categories["emotional"].n == 0
    assert set(result.to_dict()) == set(CATEGORIES)


def test_breakdown_lists_missed_and_invented_cues(model):
    references = {"a": {"visual": ["The woman smiles.", "A red car drives past outside."]}}
    predictions = {"a": {"visual": ["She is smiling.", "Quantum computers factor integers."]}}
    sample = score_cues(references, predictions, embedder=model).samples[0]
    assert sample.missed == ["A red car drives past outside."]
    assert sample.invented == ["Quantum computers factor integers."]


def test_ids_on_one_side_warn_and_score_the_intersection(model):
    references = {"a": {"visual": ["A smile."]}, "b": {"visual": ["A frown."]}}
    predictions = {"a": {"visual": ["A smile."]}, "c": {"visual": ["A nod."]}}
    with pytest.warns(EmoCue360Warning, match=r"1 id\(s\) only in the references \('b'\).*only in the predictions"):
        result = score_cues(references, predictions, embedder=model)
    assert result.categories["visual"].n == 1 and result.warnings
    with pytest.raises(DatasetError, match="strict"):
        score_cues(references, predictions, embedder=model, strict=True)
    with pytest.raises(DatasetError, match="share no sample id"):
        score_cues({"x": {}}, {"y": {}}, embedder=model)


@pytest.mark.parametrize("bad, message", [
    ({"a": {"visual": ["ok", 5]}}, r"id 'a'.*visual cue #1 is int"),
    ({"a": {"visual": "A smile."}}, r"id 'a'.*'visual' must be a list"),
    ({"a": ["A smile."]}, r"id 'a'.*cues must be an object"),
])
def test_malformed_cues_name_the_id(bad, message):
    with pytest.raises(DatasetError, match=message):
        score_cues(bad, {"a": {"visual": ["x"]}}, embedder=lambda texts: np.ones((len(texts), 2)))


def test_malformed_json_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "cues.json"
    path.write_text('{"a": {"visual": ["x"]}')
    with pytest.raises(DatasetError, match=r"cues.json: invalid JSON at line 1"):
        load_cue_file(path)


# ------------------------------------------------------------------------------------------ rule extractor


def test_parse_explanation_assigns_sections_and_splits_clauses():
    text = ("In the video, the woman smiles and her brows are raised, indicating surprise. She nods slowly. "
            "In the audio, her voice is loud, with a trembling tone. In the text, the subtitle says \"Really? "
            "Wow.\" Overall, she seems surprised and happy.")
    cues = parse_explanation(text, canonical=False)
    assert cues["visual"] == ["The woman smiles.", "Her brows are raised.", "She nods slowly."]
    assert cues["auditory"] == ["Her voice is loud.", "A trembling tone.", "The subtitle says \"Really? Wow.\""]
    assert cues["emotional"] == ["Surprise.", "She seems surprised and happy."]
    assert parse_explanation("") == {"visual": [], "auditory": [], "emotional": []}


def test_parse_explanation_moves_a_clause_to_the_modality_it_names():
    cues = parse_explanation("In the video, the man frowns. His voice trembles. Overall, he is upset.", canonical=False)
    assert cues == {"visual": ["The man frowns."], "auditory": ["His voice trembles."], "emotional": ["He is upset."]}


def test_parse_explanation_rewrites_basic_cues_canonically():
    text = ("In the video, the speaker keeps shaking the head, and a smile only appears halfway through the clip. "
            "In the audio, his voice is deep, while he laughs. Overall, the tone of voice suggests joy, so the "
            "man is most likely happy, and the context is a party.")
    assert parse_explanation(text) == {
        "visual": ["The person shakes the head.", "The face changes from neutral to a smile in mid-clip."],
        "auditory": ["The voice is low-pitched.", "There is laughter."],
        "emotional": ["The voice sounds happy.", "The person feels happy.", "The context is a party."]}


@pytest.mark.parametrize("text, emotion", [
    ("In the video, she smiles. Overall, the person is most likely joyful.", "happy"),
    ("Overall, the face looks happy, but the voice trembles, so she is actually sad.", "sad"),
    ("She is not angry; she seems worried rather than afraid.", "worried"),
    ("Overall, the face suggests happiness and the tone of voice suggests fear, so the speaker feels fearful.", "fearful"),
    ("In the video, the person looks at the camera.", None),
])
def test_extract_emotion(text, emotion):
    assert extract_emotion(text) == emotion


def test_emotion_synonyms_and_accuracy():
    assert [normalize_emotion(x) for x in ("Joyful", "glad", "furious", "astonished", "scared", "anxious", "calm")] == \
        ["happy", "happy", "angry", "surprised", "fearful", "worried", "neutral"]
    assert normalize_emotion("bored") == "bored" and normalize_emotion("") is None
    scores = emotion_scores({"a": "happy", "b": "sad", "c": "angry"}, {"a": "pleased", "b": "angry", "c": None},
                            mentioned={"b": {"angry", "sad"}})
    assert scores == {"accuracy": pytest.approx(1 / 3), "n": 3, "hit_rate": pytest.approx(2 / 3)}


def test_every_emotion_word_the_data_writes_is_read_as_its_emotion():
    meaning = {**{label: label for label in EMOTION_NOUNS}, **{noun: label for label, noun in EMOTION_NOUNS.items()},
               **EMOTION_SYNONYMS["adjective"], **EMOTION_SYNONYMS["noun"], **CUE_EMOTION_WORDS}
    misread = {word for word, label in meaning.items() if normalize_emotion(word) != normalize_emotion(label)}
    assert misread == {"neutrality"}  # the DPO's noun for "neutral", which the metric's groups lack


# ------------------------------------------------------------------------------------------ synth


def test_rule_extractor_recovers_emocue_synth_cues(model):
    from processing.data.synth.corpus import synth_sample

    records = [synth_sample(11, "test", index)[1] for index in range(100)]
    references = {r["id"]: r["cues"] for r in records}
    predictions = {r["id"]: parse_explanation(r["explanation"]) for r in records}
    result = score_cues(references, predictions, embedder=model)
    for category in CATEGORIES:
        assert result.categories[category].f1 >= 0.9, (category, result.categories[category])
    # category assignment: the closest extracted cue (any category) of each gold cue is in the gold cue's category
    texts = sorted({t for cues in (*references.values(), *predictions.values()) for c in CATEGORIES for t in cues[c]})
    vectors = dict(zip(texts, model.encode(texts, normalize_embeddings=True)))
    correct = total = 0
    for key in references:
        gold = [(c, t) for c in CATEGORIES for t in references[key][c]]
        found = [(c, t) for c in CATEGORIES for t in predictions[key][c]]
        similarity = np.stack([vectors[t] for _, t in gold]) @ np.stack([vectors[t] for _, t in found]).T
        correct += sum(found[j][0] == c for (c, _), j in zip(gold, similarity.argmax(axis=1)))
        total += len(gold)
    assert correct / total >= 0.95
    labels = [normalize_emotion(extract_emotion(r["explanation"])) == normalize_emotion(r["emotion"]) for r in records]
    assert sum(labels) / len(labels) >= 0.95


# ------------------------------------------------------------------------------------------ hf: extractor


def test_parse_cue_json_validates_replies():
    good = {"visual": ["A smile."], "auditory": [], "emotional": ["Happy."]}
    assert parse_cue_json("Sure! " + json.dumps(good) + " Done.") == good
    assert parse_cue_json('{"visual": ["a"]}') == {"visual": ["a"], "auditory": [], "emotional": []}
    assert parse_cue_json('{"note": "x"} then {"visual": ["a {b}"], "emotional": []}')["visual"] == ["a {b}"]
    for bad in ("no json here", '{"visual": "a"}', '{"visual": [1]}', '{"other": []}', '{"visual": ['):
        assert parse_cue_json(bad) is None


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    from processing.tokenizers import build_bpe_tokenizer

    folder = tmp_path_factory.mktemp("tiny_lm")
    tokenizer = build_bpe_tokenizer(["In the video, the person smiles. {\"visual\": [\"a\"]}"] * 4, vocab_size=300)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=4096, n_embd=16, n_layer=1, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_hf_extractor_retries_then_falls_back_to_the_rule_extractor(tiny_lm_dir):
    extractor = HFExtractor(tiny_lm_dir, max_new_tokens=6, retries=1)
    calls = []
    generate = extractor.generate
    extractor.generate = lambda prompt, attempt: calls.append(attempt) or generate(prompt, attempt)
    text = "In the video, the person smiles. Overall, she is happy."
    out = extractor.extract({"a": text})
    assert calls == [0, 1]  # greedy, then one sampled retry
    assert out["a"] == parse_explanation(text)
    assert "1 of 1 explanation(s) gave no valid JSON after 2 tries" in extractor.notes[0]
    strict = HFExtractor(tiny_lm_dir, max_new_tokens=4, retries=0, fallback="error")
    with pytest.raises(ExtractorError, match="no valid cue JSON for id 'a' after 1 tries"):
        strict.extract({"a": text})


def test_hf_extractor_uses_the_first_valid_reply_and_the_chat_template(tiny_lm_dir):
    extractor = HFExtractor(tiny_lm_dir, max_new_tokens=4, retries=2)
    extractor.tokenizer.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    assert extractor.prompt("hello").endswith("<user>hello<assistant>")
    replies = iter(["garbage", '{"visual": ["A smile."], "auditory": [], "emotional": ["Joy."]}'])
    extractor.generate = lambda prompt, attempt: next(replies)
    assert extractor.extract({"a": "x"}) == {"a": {"visual": ["A smile."], "auditory": [], "emotional": ["Joy."]}}
    assert extractor.notes == []


def test_hf_extractor_needs_a_folder():
    with pytest.raises(ExtractorError, match="is not a folder"):
        HFExtractor("/no/such/model")


# ------------------------------------------------------------------------------------------ openai: extractor


class CannedChatServer:
    """A local OpenAI-style /v1/chat/completions server (127.0.0.1 only) answering canned cue JSON."""

    def __init__(self, failures: int = 0, invalid: int = 0):
        self.requests, self.failures, self.invalid = [], failures, invalid
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                if server.failures > 0:
                    server.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                text = body["messages"][-1]["content"]
                content = ("not json" if server.invalid > 0 else
                           json.dumps({"visual": [f"seen: {text}"], "auditory": [], "emotional": ["Happy."]}))
                server.invalid -= 1
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_extractor_fetches_concurrently_and_caches(tmp_path):
    server = CannedChatServer()
    try:
        texts = {f"id{i}": f"explanation {i}" for i in range(6)}
        extractor = OpenAIExtractor(server.url, model="m", cache_dir=str(tmp_path), concurrency=3, backoff=0.01)
        out = extractor.extract(texts)
        assert out["id4"] == {"visual": ["seen: explanation 4"], "auditory": [], "emotional": ["Happy."]}
        assert len(server.requests) == 6 and server.requests[0][0] == "/v1/chat/completions"
        assert server.requests[0][1]["model"] == "m" and server.requests[0][1]["response_format"]["type"] == "json_object"
        again = OpenAIExtractor(server.url, model="m", cache_dir=str(tmp_path)).extract(texts)
        assert again == out and len(server.requests) == 6  # a re-run costs nothing
        OpenAIExtractor(server.url, model="other", cache_dir=str(tmp_path)).extract({"x": "explanation 0"})
        assert len(server.requests) == 7  # the cache key includes the model
    finally:
        server.close()


def test_openai_extractor_retries_server_errors_and_invalid_replies(tmp_path):
    server = CannedChatServer(failures=2, invalid=1)
    try:
        extractor = OpenAIExtractor(server.url, cache_dir=str(tmp_path), retries=3, backoff=0.01, concurrency=1)
        assert extractor.extract({"a": "t"})["a"]["visual"] == ["seen: t"]
        assert len(server.requests) == 4  # 503, 503, invalid JSON, valid
    finally:
        server.close()


def test_unreachable_openai_server_is_one_clear_error_and_keeps_the_cache(tmp_path):
    server = CannedChatServer()
    url = server.url
    try:
        OpenAIExtractor(url, cache_dir=str(tmp_path)).extract({"a": "first", "b": "second"})
    finally:
        server.close()
    extractor = OpenAIExtractor(url, cache_dir=str(tmp_path), retries=1, backoff=0.01, timeout=2)
    with pytest.raises(ExtractorError, match=r"cannot reach .*2 of 3 extraction\(s\) are done and cached"):
        extractor.extract({"a": "first", "b": "second", "c": "third"})
    assert sum(len(files) for _, _, files in os.walk(tmp_path)) == 2
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ExtractorError, match="cannot reach"):
        OpenAIExtractor(dead, cache_dir=str(tmp_path), retries=0).extract({"z": "new"})


# ------------------------------------------------------------------------------------------ records, CLI, reports


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


REFERENCE_ROWS = [
    {"id": "a", "explanation": "In the video, the woman smiles. In the audio, her voice is loud. Overall, she is happy.",
     "emotion": "happy", "cues": {"visual": ["The woman smiles."], "auditory": ["Her voice is loud."],
                                  "emotional": ["She is happy."]}},
    {"id": "b", "explanation": "In the video, he frowns. In the audio, he sighs. Overall, he is sad.", "emotion": "sad"},
]
PREDICTION_ROWS = [
    {"id": "a", "explanation": "In the video, the woman is smiling. In the audio, she speaks loudly. Overall, she is joyful."},
    {"id": "b", "explanation": "In the video, he frowns. In the audio, he laughs. Overall, he seems angry."},
]


def test_evaluate_records_uses_gold_cues_extracts_the_rest_and_scores_emotions(tmp_path, model):
    result = evaluate(write_jsonl(tmp_path / "r.jsonl", REFERENCE_ROWS), write_jsonl(tmp_path / "p.jsonl", PREDICTION_ROWS),
                      embedder=model)
    assert result.reference_cues["a"]["visual"] == ["The woman smiles."]
    assert result.reference_cues["b"] == {"visual": ["The person frowns."], "auditory": ["There is a sigh."],
                                          "emotional": ["The person feels sad."]}
    assert result.to_dict()["emotion"] == {"accuracy": 0.5, "n": 2, "hit_rate": 0.5}
    assert result.predicted_emotions == {"a": "happy", "b": "angry"}


def test_prediction_cues_pass_through_unless_reextracted(tmp_path, model):
    rows = [{"id": "a", "explanation": "In the video, she frowns.", "cues": {"visual": ["The person smiles."]}}]
    references = [{"id": "a", "cues": {"visual": ["The person smiles."]}}]
    assert evaluate(references, rows, embedder=model).categories["visual"].f1 == pytest.approx(1.0)
    again = evaluate(references, rows, embedder=model, reextract_predictions=True)
    assert again.predicted_cues["a"]["visual"] == ["The person frowns."]


def test_evaluate_reads_parquet_and_dataset_folders(tmp_path, model):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "ds" / "data"
    folder.mkdir(parents=True)
    rows = [{"id": r["id"], "explanation": r["explanation"], "emotion": r["emotion"],
             "cues": r.get("cues") or {"visual": [], "auditory": [], "emotional": []}} for r in REFERENCE_ROWS]
    pq.write_table(pa.Table.from_pylist(rows), folder / "test.parquet")
    predictions = write_jsonl(tmp_path / "p.jsonl", PREDICTION_ROWS)
    from_file = evaluate(str(folder / "test.parquet"), predictions, embedder=model)
    from_folder = evaluate(str(tmp_path / "ds"), predictions, embedder=model)
    assert from_file.to_dict() == from_folder.to_dict()
    assert from_file.reference_cues["b"]["auditory"] == ["There is a sigh."]  # empty gold cues: extracted


def test_evaluate_rejects_bad_records(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "explanation": "x"}\n{"id": "b", "explanation": \n')
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: invalid JSON"):
        evaluate(str(bad), str(bad))
    with pytest.raises(DatasetError, match="id 'a' occurs twice"):
        evaluate([{"id": "a", "explanation": "x"}, {"id": "a", "explanation": "y"}], [{"id": "a", "explanation": "x"}])
    with pytest.raises(DatasetError, match="id 'a' has neither 'cues' nor an 'explanation'"):
        evaluate([{"id": "a"}], [{"id": "a", "explanation": "x"}])


def run_cli(capsys, *argv):
    code = cli_main(["evaluate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_cue_files_json(tmp_path, capsys, model):
    ref, pred = tmp_path / "R.json", tmp_path / "P.json"
    ref.write_text(json.dumps({"a": {"visual": ["A smile."], "auditory": ["The context sounds tense."],
                                     "emotional": ["Happy."]}, "b": {"visual": ["A frown."]}}))
    pred.write_text(json.dumps({"a": {"visual": ["A smile."], "auditory": ["Tense context."], "emotional": ["Happy."]}}))
    code, out, err = run_cli(capsys, "--ref-cues", str(ref), "--pred-cues", str(pred), "--json")
    scores = json.loads(out)
    assert code == 0 and set(scores) == set(CATEGORIES) and scores["auditory"]["n"] == 1
    assert scores["visual"] == {"precision": pytest.approx(1.0), "recall": pytest.approx(1.0), "f1": pytest.approx(1.0), "n": 1}
    assert err.count("\n") == 1 and "warning: 1 id(s) only in the references ('b')" in err
    code, out, _ = run_cli(capsys, "--ref-cues", str(ref), "--pred-cues", str(pred), "--json", "--compat", "paper")
    assert json.loads(out)["auditory"]["n"] == 0
    code, out, err = run_cli(capsys, "--ref-cues", str(ref), "--pred-cues", str(pred), "--strict")
    assert code == 2 and out == "" and err.startswith("xemogpt evaluate: error: 1 id(s) only in the references")
    assert err.count("\n") == 1


@pytest.mark.parametrize("content, message", [
    ('{"a": {"visual": ["x"]', "invalid JSON at line 1"),
    ('{"a": {"visual": [3]}}', "id 'a': visual cue #0 is int"),
    ('["a"]', "expected a JSON object mapping sample ids"),
])
def test_cli_bad_cue_files_are_one_line_errors(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out, err = run_cli(capsys, "--ref-cues", str(bad), "--pred-cues", str(bad))
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_records_out_dir_writes_the_report(tmp_path, capsys, model):
    out_dir = tmp_path / "report"
    code, out, err = run_cli(capsys, "--references", write_jsonl(tmp_path / "r.jsonl", REFERENCE_ROWS),
                             "--predictions", write_jsonl(tmp_path / "p.jsonl", PREDICTION_ROWS),
                             "--out", str(out_dir), "--json")
    assert code == 0
    printed = json.loads(out)
    assert printed["emotion"]["accuracy"] == 0.5
    assert json.loads((out_dir / "emocue360.json").read_text()) == printed
    report = (out_dir / "report.md").read_text()
    assert "| visual |" in report and "### `b`" in report and "There is laughter." in report  # invented cue shown
    assert (out_dir / "emocue360.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out_dir / "samples.jsonl").read_text().splitlines()) == 6
    assert not [p for p in os.listdir(out_dir) if p.endswith(".tmp")]
    rescored = run_cli(capsys, "--ref-cues", str(out_dir / "reference_cues.json"),
                       "--pred-cues", str(out_dir / "predicted_cues.json"), "--json")[1]
    assert {k: v for k, v in json.loads(rescored).items()} == {k: v for k, v in printed.items() if k != "emotion"}


def test_cli_unreachable_openai_extractor_is_one_line(tmp_path, capsys):
    code, out, err = run_cli(capsys, "--references", write_jsonl(tmp_path / "r.jsonl", REFERENCE_ROWS),
                             "--predictions", write_jsonl(tmp_path / "p.jsonl", PREDICTION_ROWS),
                             "--extractor", f"openai:http://127.0.0.1:{free_port()}/v1", "--retries", "0",
                             "--cache-dir", str(tmp_path / "cache"))
    assert code == 2 and "error: openai extractor: cannot reach" in err and err.count("\n") == 1


def test_cli_unknown_extractor(tmp_path, capsys):
    rows = write_jsonl(tmp_path / "r.jsonl", PREDICTION_ROWS)
    code, _, err = run_cli(capsys, "--references", rows, "--predictions", rows, "--extractor", "gpt")
    assert code == 2 and "unknown cue extractor 'gpt'" in err


def test_write_report_is_atomic_and_complete(tmp_path, model):
    result = score_cues({"a": {"visual": ["A smile."]}}, {"a": {"visual": ["A smile."]}}, embedder=model)
    written = write_report(result, tmp_path / "out")
    assert sorted(written) == ["emocue360.json", "emocue360.png", "report.md", "samples.jsonl"]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(written)


def test_missing_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        evaluate(str(tmp_path / "nope.jsonl"), str(tmp_path / "nope.jsonl"))
    assert issubclass(ExtractorError, XEmoGPTError)
