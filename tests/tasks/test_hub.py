"""The Hub loader's mapping from Hub rows to examples, against a stand-in for the `datasets` package
(the real Hub is out of reach here and in CI)."""

from __future__ import annotations

import sys
import types

import pytest

from xstilts.errors import DataError
from xstilts.tasks import get_task
from xstilts.tasks.loading import load_examples


class ClassLabel:
    def __init__(self, names):
        self.names = names


class Sequence:
    def __init__(self, feature):
        self.feature = feature


class Rows(list):
    features: dict = {}


@pytest.fixture
def fake_datasets(monkeypatch):
    calls = []

    def load_dataset(path, name=None, *, split, revision, data_files=None):
        calls.append((path, name, split, revision))
        if name.startswith("PAN-X"):
            rows = Rows([{"tokens": ["Angela", "Merkel", "spricht"], "ner_tags": [1, 2, 0]}])
            rows.features = {"tokens": None, "ner_tags": Sequence(ClassLabel(["O", "B-PER", "I-PER"]))}
        else:
            rows = Rows([{"premise": "p", "hypothesis": "h", "label": 2}])
            rows.features = {"label": ClassLabel(["entailment", "neutral", "contradiction"])}
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return calls


def test_hub_rows_become_examples_with_label_names(fake_datasets, tmp_path):
    [tagged] = load_examples(get_task("panx"), "dev", "sw", tmp_path, source="hub")
    assert (tagged.words, tagged.tags) == (("Angela", "Merkel", "spricht"), ("B-PER", "I-PER", "O"))
    [pair] = load_examples(get_task("xnli"), "dev", "de", tmp_path, source="hub")
    assert (pair.text_a, pair.text_b, pair.label) == ("p", "h", "contradiction")
    xtreme, xnli = (get_task(name).hub[0].revision for name in ("panx", "xnli"))
    assert fake_datasets == [
        ("google/xtreme", "PAN-X.sw", "validation", xtreme),
        ("facebook/xnli", "de", "validation", xnli),
    ]


def test_a_language_the_hub_copy_lacks_is_refused(fake_datasets, tmp_path):
    # PAN-X's offline dev files have WikiANN languages beyond XTREME's 40, which google/xtreme has as configurations
    with pytest.raises(DataError, match="no language 'qu'"):
        load_examples(get_task("panx"), "dev", "qu", tmp_path, source="hub")
    assert fake_datasets == []


def test_tasks_without_a_hub_source_say_so(fake_datasets, tmp_path):
    with pytest.raises(DataError, match="no Hub source"):
        load_examples(get_task("sick"), "train", "en", tmp_path, source="hub")
