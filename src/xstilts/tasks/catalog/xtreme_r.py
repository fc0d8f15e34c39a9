"""The tasks XTREME-R (Ruder et al. 2021) adds to XTREME's. XCOPA is declared with XTREME's tasks (catalog/xtreme.py)
because the offline copy has it in XTREME's layout; UD-POS, XQuAD, MLQA, TyDiQA-GoldP and Tatoeba are XTREME's own."""

from __future__ import annotations

from xstilts.tasks.catalog import xtreme
from xstilts.tasks.definition import TaskDef

_PANX = next(task for task in xtreme.TASKS if task.name == "panx")

# XTREME-R's "WikiANN-NER" is XTREME's PAN-X: the same files (XTREME's panx/ directory), tags and seqeval F1. Only the
# name differs, so XTREME-R specs can say `wikiann`; everything else is PAN-X's declaration.
WIKIANN = _PANX.model_copy(
    update={
        "name": "wikiann",
        "description": "WikiANN named entities (XTREME-R's name for PAN-X: the same data): PER, ORG, LOC in IOB2.",
        "notes": f"Same data and metric as panx. {_PANX.notes}",
    }
)

TASKS: tuple[TaskDef, ...] = (WIKIANN,)
