"""The tokenised-feature cache: a hit returns exactly what featurising again would, and any change to what
determines the features (examples, options, task, tokenizer, max length) misses."""

from __future__ import annotations

import json

import pytest

from xstilts.formats import make_format
from xstilts.tasks import get_task
from xstilts.tasks.loading import load_examples
from xstilts.training import feature_cache


@pytest.fixture(scope="module")
def tokenizer(me5_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(me5_dir)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path))
    monkeypatch.delenv(feature_cache.DISABLE_ENV, raising=False)
    return tmp_path / "features"


# One real file per format, including the targets that are not plain ids: QA windows (dataclass with offsets),
# retrieval pairs (tuples), MLM (None).
CASES = [
    ("sick", "train", "en", "classification", {}),
    ("siqa", "train", "en", "multiple_choice", {}),
    ("panx", "dev", "de", "tagging", {}),
    ("xquad", "test", "de", "span_qa", {"doc_stride": 64}),
    ("tatoeba", "test", "de", "retrieval", {}),
    ("mlm_wiki", "train", "de", "mlm", {}),
]


@pytest.mark.parametrize(("task_name", "split", "lang", "fmt_name", "options"), CASES)
def test_a_hit_equals_featurising_again(data, tokenizer, cache, task_name, split, lang, fmt_name, options):
    task = get_task(task_name)
    if split not in task.splits:
        pytest.skip(f"{task_name} has no {split} split")
    examples = load_examples(task, split, lang, data)[:40]
    fmt = make_format(fmt_name, options)
    fresh = fmt.encode(examples, tokenizer, task, 96)
    first = feature_cache.encode(fmt, examples, tokenizer, task, 96)
    assert list(cache.glob("*.arrow")) and first == fresh

    def no_featurising(*args, **kwargs):
        raise AssertionError("featurised again although the cache holds these features")

    fmt.encode = no_featurising  # type: ignore[method-assign]
    assert feature_cache.encode(fmt, examples, tokenizer, task, 96) == fresh


def test_anything_that_changes_the_features_changes_the_key(data, tokenizer):
    task = get_task("sick")
    examples = load_examples(task, "train", "en", data)[:20]
    fmt = make_format("classification")
    digest = feature_cache.tokenizer_digest(tokenizer)
    base = feature_cache.feature_key(fmt, examples, digest, task, 128)
    variants = [
        feature_cache.feature_key(fmt, examples[:19], digest, task, 128),
        feature_cache.feature_key(fmt, examples[1:] + examples[:1], digest, task, 128),
        feature_cache.feature_key(fmt, examples, digest, task, 64),
        feature_cache.feature_key(fmt, examples, "another tokenizer", task, 128),
        feature_cache.feature_key(fmt, examples, digest, task.model_copy(update={"version": 2}), 128),
        feature_cache.feature_key(make_format("span_qa", {"doc_stride": 64}), examples, digest, task, 128),
        feature_cache.feature_key(make_format("span_qa", {"doc_stride": 32}), examples, digest, task, 128),
    ]
    assert len({base, *variants}) == len(variants) + 1
    assert feature_cache.feature_key(fmt, list(examples), digest, task, 128) == base


def test_a_damaged_entry_is_featurised_again(data, tokenizer, cache):
    task, fmt = get_task("sick"), make_format("classification")
    examples = load_examples(task, "train", "en", data)[:10]
    expected = feature_cache.encode(fmt, examples, tokenizer, task, 64)
    [entry] = cache.glob("*.arrow")
    entry.write_bytes(entry.read_bytes()[:50])
    assert feature_cache.encode(fmt, examples, tokenizer, task, 64) == expected
    assert entry.stat().st_size > 50  # rewritten whole


def test_the_cache_can_be_turned_off(data, tokenizer, cache, monkeypatch):
    monkeypatch.setenv(feature_cache.DISABLE_ENV, "0")
    task, fmt = get_task("sick"), make_format("classification")
    feature_cache.encode(fmt, load_examples(task, "train", "en", data)[:10], tokenizer, task, 64)
    assert not cache.exists()


def test_targets_are_json_and_only_the_formats_own_types_are_rebuilt(tmp_path):
    from xstilts.formats.span_qa import Window

    window = Window(3, 5, 7, ((0, 4), None, (5, 9)))
    assert feature_cache._untagged(json.loads(json.dumps(feature_cache._tagged(window)))) == window
    assert feature_cache._untagged(feature_cache._tagged([(1, "en"), None, [2, -100]])) == [(1, "en"), None, [2, -100]]
    with pytest.raises(ValueError, match="unexpected target type"):
        feature_cache._untagged({"dataclass": "subprocess:Popen", "fields": {"args": "true"}})
    with pytest.raises(TypeError):
        feature_cache._tagged({1, 2})  # not representable: such features are simply not cached


def test_a_hit_still_binds_the_format_to_the_tokenizer(data, tokenizer, cache):
    """MLM collates with the tokenizer's mask id: a format that was never asked to encode (cache hit in a new
    process) must still have it, or masking writes None into the batch."""
    task = get_task("mlm_wiki")
    examples = load_examples(task, "train", "de", data)[:8]
    feature_cache.encode(make_format("mlm", {}), examples, tokenizer, task, 64)  # fills the cache
    fresh_format = make_format("mlm", {})
    features = feature_cache.encode(fresh_format, examples, tokenizer, task, 64)
    batch = fresh_format.collate(features, tokenizer.pad_token_id)
    assert fresh_format.mask_id == tokenizer.mask_token_id
    assert (batch["input_ids"] == tokenizer.mask_token_id).any()
