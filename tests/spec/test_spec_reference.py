"""docs/spec.md is generated from the spec models: it must be what the generator prints now, and name every field."""

from pathlib import Path

from xstilts.spec import model
from xstilts.spec.reference import SECTIONS, reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def test_docs_spec_is_regenerated():
    assert DOC.read_text() == reference(), "run: python -m xstilts.spec.reference > docs/spec.md"


def test_every_field_of_every_spec_section_is_documented_with_a_comment():
    text = reference()
    for _, section, _ in SECTIONS:
        for name in section.model_fields:
            row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
            assert not row.endswith("|  |"), f"{section.__name__}.{name} has no comment in spec/model.py"
    documented = {section for _, section, _ in SECTIONS}
    spec_models = {m for m in vars(model).values() if isinstance(m, type) and issubclass(m, model._Strict)}
    assert spec_models - {model._Strict} <= documented
