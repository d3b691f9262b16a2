"""SQuAD preparation as MLPerf does it, checked by hand and against the `tokenizers` library."""

import json
from pathlib import Path

import numpy as np
import pytest

from inferlca.errors import InputFileError
from inferlca.workloads import squad

TINY = Path(__file__).parent / "fixtures" / "squad" / "tiny-squad-v1.1.json"


@pytest.fixture(scope="module")
def tok():
    return squad.bert_tokenizer()


def test_vocabulary_is_bert_uncased(tok):
    assert len(tok) == 30522
    assert (tok.pad_id, tok.cls_id, tok.sep_id) == (0, 101, 102)


def test_basic_tokenization_by_hand(tok):
    # lower-casing, accent stripping and punctuation splitting
    assert tok.basic_tokenize("Auvergne-Rhône-Alpes, 2007!") == [
        "auvergne", "-", "rhone", "-", "alpes", ",", "2007", "!"]


def test_matches_the_tokenizers_library(tok):
    tokenizers = pytest.importorskip("tokenizers")
    ref = tokenizers.BertWordPieceTokenizer(str(squad.default_vocab_path()), lowercase=True)
    text = ("The Laboratoire d'Informatique de Grenoble (LIG) measured 1.8 ms on an H100; "
            "unaffable naïve café façade — über-tokenization, 北京.")
    expected = ref.encode(text, add_special_tokens=False).tokens
    assert tok.tokenize(text) == expected


def test_features_layout(tok):
    s = squad.load_squad(TINY, tok)
    assert len(s.examples) == 2 and len(s.features) == 2  # short context: one window each
    f = s.features[0]
    q = tok.tokenize("In which country is Grenoble?")
    n_ctx = sum(len(tok.tokenize(w)) for w in s.examples[0].doc_words)
    assert f.seq_len == 384
    assert f.real_tokens == 1 + len(q) + 1 + n_ctx + 1
    assert f.input_ids[0] == 101 and f.input_ids[len(q) + 1] == 102
    assert int(f.segment_ids.sum()) == n_ctx + 1
    assert (f.input_ids[f.real_tokens:] == 0).all()


def test_windowing_with_stride(tok):
    # 40 context words of one token each, query of 3 tokens, seq 32: room = 32 - 3 - 3 = 26 tokens.
    # spans start at 0, 8, 16 (stride 8): lengths 26, 26, 24 -> the third reaches token 40 and stops.
    ex = squad.Example("x", "one two three", ["word"] * 40, [])
    feats = squad.make_features([ex], tok, max_seq_len=32, doc_stride=8, max_query_len=8)
    assert [f.real_tokens for f in feats] == [32, 32, 3 + 3 + 24]
    # token at context position 20 sits in windows 0 (pos 20), 1 (pos 12), 2 (pos 4);
    # min distance to the window edge: 5, 12, 4 -> window 1 holds its max context.
    assert [f.max_context.get(5 + p) for f, p in zip(feats, (20, 12, 4))] == [False, True, False]


def test_postprocess_and_scores(tok):
    s = squad.load_squad(TINY, tok)
    starts, ends = [], []
    for f, answer in zip(s.features, ["France", "2007"]):
        st = np.full(f.seq_len, -10.0)
        en = np.full(f.seq_len, -10.0)
        ex = s.examples[f.example_index]
        word = next(i for i, w in enumerate(ex.doc_words) if w.startswith(answer))
        pos = min(p for p, w in f.token_to_word.items() if w == word)
        st[pos] = en[pos] = 5.0
        starts.append(st)
        ends.append(en)
    preds = squad.postprocess(s, starts, ends, tok)
    # the word is "France," in the context; the predicted piece is "france": projection drops the comma
    assert preds == {"q1": "France", "q2": "2007"}
    scores = squad.squad_scores(s, preds)
    assert scores["exact_match"] == 100.0 and scores["f1"] == 100.0


def test_official_metric_arithmetic():
    # prediction "the French Alps" vs truth "foot of the French Alps": normalised tokens
    # [french, alps] vs [foot, of, french, alps]: precision 2/2, recall 2/4 -> F1 = 2*1*0.5/1.5
    assert squad.f1("the French Alps", "foot of the French Alps") == pytest.approx(2 / 3)
    assert squad.exact_match("The  France!", "france") == 1.0


def test_synthetic_features_are_seeded_and_realistic():
    a = squad.synthetic_features(50, seed=3)
    b = squad.synthetic_features(50, seed=3)
    assert all((x.input_ids == y.input_ids).all() for x, y in zip(a, b))
    lengths = [f.real_tokens for f in a]
    assert all(f.seq_len == 384 for f in a)
    assert 100 < np.mean(lengths) < 300 and max(lengths) <= 384


def test_malformed_file_says_where(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "a"}]}]}]}))
    with pytest.raises(InputFileError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing \"question\""):
        squad.load_squad(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [\n  {"paragraphs": ]}')
    with pytest.raises(InputFileError, match="line 2"):
        squad.load_squad(broken)


def test_model_folder_without_vocab(tmp_path):
    with pytest.raises(InputFileError, match="vocab.txt"):
        squad.bert_tokenizer(tmp_path)
