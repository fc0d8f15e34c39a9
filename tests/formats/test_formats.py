"""Formats: featurisation invariants, collation shapes, decoding and metrics, with the real tokenizer."""

from __future__ import annotations

import pytest
import torch

from xstilts.formats import make_format
from xstilts.formats.tagging import IGNORE
from xstilts.metrics import accuracy, seqeval_f1
from xstilts.tasks import get_task
from xstilts.tasks.examples import ClassificationExample, MultipleChoiceExample, TaggingExample


@pytest.fixture(scope="module")
def tokenizer(me5_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(me5_dir)


def test_tagging_labels_only_the_first_subtoken_of_each_word(tokenizer):
    task = get_task("panx")
    example = TaggingExample(("Angela", "Merkel", "besuchte", "Ouagadougou"), ("B-PER", "I-PER", "O", "B-LOC"))
    [feature] = make_format("tagging").encode([example], tokenizer, task, max_length=64)
    labelled = [t for t in feature.target.labels if t != IGNORE]
    assert [task.labels[t] for t in labelled] == list(example.tags)
    assert len(feature.input_ids) > len(example.words) + 2  # some words split into several pieces
    assert feature.target.labels[0] == IGNORE and feature.target.labels[-1] == IGNORE  # <s> and </s>
    assert feature.target.words == len(example.words)


def test_tagging_truncated_words_are_scored_as_outside(tokenizer):
    task, fmt = get_task("panx"), make_format("tagging")
    words = tuple(["Berlin"] + ["x"] * 40)
    example = TaggingExample(words, tuple(["B-LOC"] + ["O"] * 40))
    features = fmt.encode([example], tokenizer, task, max_length=16)
    batch = fmt.collate(features, tokenizer.pad_token_id)
    logits = torch.zeros(1, batch["input_ids"].shape[1], len(task.labels))
    logits[0, :, task.labels.index("B-LOC")] = 1.0
    predictions = fmt.decode(logits, batch, task)
    k = sum(1 for t in features[0].target.labels if t != IGNORE)  # the words max_length kept
    assert k < len(words) and predictions[0] == ["B-LOC"] * k + ["O"] * (len(words) - k)
    # k kept words all predicted B-LOC: k one-word chunks, one of them right (P = 1/k, R = 1), and the cut
    # words predicted O rather than dropped, so F1 = 2 / (k + 1)
    assert fmt.score(predictions, [example], task, "en")["f1"] == pytest.approx(100 * 2 / (k + 1))


def test_pair_classification_uses_the_xlmr_pair_template(tokenizer):
    task = get_task("xnli")
    [feature] = make_format("classification").encode(
        [ClassificationExample("A man sleeps.", "Nobody sleeps.", "contradiction")], tokenizer, task, 64
    )
    ids = feature.input_ids
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert [i for i in ids if i == tokenizer.sep_token_id] == [tokenizer.sep_token_id] * 3  # </s></s> between
    assert feature.target == task.labels.index("contradiction")


def test_multiple_choice_keeps_every_answer_when_truncating(tokenizer):
    task, fmt = get_task("siqa"), make_format("multiple_choice")
    example = MultipleChoiceExample("word " * 200, "Why?", ("yes", "no", "maybe later"), 2)
    [feature] = fmt.encode([example], tokenizer, task, max_length=32)
    assert len(feature.input_ids) == 3 and all(len(row) <= 32 for row in feature.input_ids)
    last_answer = tokenizer("maybe later", add_special_tokens=False)["input_ids"]
    assert feature.input_ids[2][-len(last_answer) - 1 : -1] == last_answer
    batch = fmt.collate([feature, feature], tokenizer.pad_token_id)
    assert batch["input_ids"].shape[:2] == (2, 3)


def test_metrics_on_hand_computed_cases():
    assert accuracy(["a", "b", "b", "a"], ["a", "b", "a", "a"]) == {"accuracy": 75.0}
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    # one of two gold chunks found, one spurious chunk: P = 1/2, R = 1/2
    assert seqeval_f1([["B-PER", "I-PER", "B-ORG", "O"]], gold)["f1"] == pytest.approx(50.0)
    # an I- tag with no B- before it starts a chunk (conlleval behaviour)
    assert seqeval_f1([["I-PER", "I-PER", "O", "I-LOC"]], gold)["f1"] == pytest.approx(100.0)
    with pytest.raises(ValueError):
        accuracy([], [])
