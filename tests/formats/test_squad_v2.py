"""SQuAD v2.0: unanswerable questions train towards <s>, the null score can win at prediction, and the official
v2 metric (HasAns / NoAns / overall EM and F1) on hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xstilts.formats import make_format
from xstilts.formats.span_qa import Proposal
from xstilts.metrics import METRICS
from xstilts.metrics.squad import squad_v2_em_f1
from xstilts.tasks import get_task
from xstilts.tasks.examples import SpanQAExample
from xstilts.tasks.loading import load_examples

CONTEXT = "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California."


def test_v2_metric_splits_answerable_and_unanswerable_questions():
    predictions = ["Denver Broncos", "Santa Clara", "", "Levi's Stadium"]
    golds = [["Denver Broncos", "the Denver Broncos"], ["Santa Clara, California"], [], []]
    # HasAns: EM 1 and 0; F1 1 and 0.8 (2 shared tokens: precision 1, recall 2/3). NoAns: "" is right (1, 1), an
    # answer is wrong (0, 0).
    assert squad_v2_em_f1(predictions, golds) == pytest.approx(
        {
            "exact_match": 50.0,
            "f1": 70.0,
            "HasAns_exact_match": 50.0,
            "HasAns_f1": 90.0,
            "NoAns_exact_match": 50.0,
            "NoAns_f1": 50.0,
        }
    )


def test_v2_metric_follows_the_official_edge_cases():
    # A gold that normalises to nothing ("the") counts as no answer, as evaluate-v2.0.py drops it.
    assert squad_v2_em_f1([""], [["the"]])["NoAns_f1"] == 100.0
    # Answering "" to an answerable question scores 0 (v1.1's scorer would refuse the empty gold list instead).
    assert squad_v2_em_f1([""], [["Paris"]]) == {
        "exact_match": 0.0,
        "f1": 0.0,
        "HasAns_exact_match": 0.0,
        "HasAns_f1": 0.0,
    }
    assert METRICS["squad_v2_em_f1"](["Paris"], [["Paris"]], "en")["f1"] == 100.0
    with pytest.raises(ValueError, match="one prediction per question"):
        squad_v2_em_f1(["a"], [])


def _proposals(null_scores: list[float], span_score: float) -> list[Proposal]:
    # Two windows of one example; only the first has a valid span ("Levi's Stadium").
    start = CONTEXT.index("Levi's")
    return [
        Proposal(0, (span_score, start, start + len("Levi's Stadium")), null_scores[0]),
        Proposal(0, None, null_scores[1]),
    ]


@pytest.mark.parametrize(
    ("options", "null_scores", "expected"),
    [
        ({}, [9.0, 9.0], "Levi's Stadium"),  # v1.1 behaviour: always the best span
        ({"allow_no_answer": True}, [9.0, 9.0], ""),  # null 9 beats the span's 3
        ({"allow_no_answer": True}, [9.0, 1.0], "Levi's Stadium"),  # the lowest null score over windows counts
        ({"allow_no_answer": True, "null_score_diff_threshold": 7.0}, [9.0, 9.0], "Levi's Stadium"),  # 6 < 7
    ],
)
def test_the_null_score_wins_only_when_allowed_and_past_the_threshold(options, null_scores, expected):
    fmt = make_format("span_qa", options)
    example = SpanQAExample("q", "Where?", CONTEXT, (), ())
    assert fmt.aggregate(_proposals(null_scores, 3.0), [], [example]) == [expected]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from xstilts.encoders.loading import load_tokenizer
    from xstilts.spec import ModelSpec

    return load_tokenizer(ModelSpec(name=str(tiny_model_dir)))


def test_unanswerable_questions_train_towards_the_first_token(tokenizer):
    task = get_task("squad_v2")
    fmt = make_format("span_qa", {"allow_no_answer": True})
    examples = [
        SpanQAExample("a", "Where?", CONTEXT, ("Levi's Stadium",), (CONTEXT.index("Levi's"),)),
        SpanQAExample("u", "Who won?", CONTEXT, (), ()),
    ]
    answered, unanswerable = fmt.encode(examples, tokenizer, task, 64)
    assert (unanswerable.target.start, unanswerable.target.end) == (0, 0)
    assert answered.target.start > 0
    batch = fmt.collate([answered, unanswerable], tokenizer.pad_token_id)
    logits = torch.zeros((*batch["input_ids"].shape, 2))
    logits[1, 0] = 5.0  # the unanswerable window puts its mass on <s>
    proposals = fmt.decode(logits, batch, task)
    assert [p.null_score for p in proposals] == [0.0, 10.0]
    assert fmt.aggregate(proposals, [answered, unanswerable], examples)[1] == ""
    assert torch.isfinite(fmt.loss(logits, batch))


def test_squad_v2_json_reads_impossible_questions_without_answers(tmp_path: Path):
    root = tmp_path / "data"
    (root / "english" / "squad_v2").mkdir(parents=True)
    start = CONTEXT.index("Santa")
    document = {
        "version": "v2.0",
        "data": [
            {
                "title": "Super_Bowl_50",
                "paragraphs": [
                    {
                        "context": CONTEXT,
                        "qas": [
                            {
                                "id": "a",
                                "question": "Where?",
                                "answers": [{"text": "Santa Clara", "answer_start": start}],
                            },
                            {
                                "id": "u",
                                "question": "Who sang?",
                                "answers": [],
                                "plausible_answers": [{"text": "Levi's", "answer_start": CONTEXT.index("Levi's")}],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            }
        ],
    }
    (root / "english" / "squad_v2" / "dev-v2.0.json").write_text(json.dumps(document), encoding="utf-8")
    answered, unanswerable = load_examples(get_task("squad_v2"), "dev", "en", root)
    assert answered.answers == ("Santa Clara",)
    assert (unanswerable.id, unanswerable.answers) == ("u", ())
    scores = make_format("span_qa").score(["Santa Clara", ""], [answered, unanswerable], get_task("squad_v2"), "en")
    assert scores["exact_match"] == 100.0 and scores["NoAns_f1"] == 100.0
