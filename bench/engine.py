"""The one xstilts-vs-Trainer engine: transformers.Trainer driving the same xstilts TaskModel, for every case.

Same modules, same initial weights, same loss (xstilts' own, behind Trainer's forward signature): only the loop
differs. Two ways to feed it, both here so that no case builds its own Trainer:

* `batches=None`: Trainer's own sampler and dataloader, what a Trainer user gets (the harness's `train` case);
  "Trainer default" is fp32 with a random sampler, "Trainer tuned" bf16 with `group_by_length`.
* `batches=[...]`: exactly xstilts' length-grouped batches through the dataloader's batch sampler, fused AdamW,
  the step count fixed (bench/fair.py's like-with-like runs); "tuned" adds bf16 where the device has it and, on
  a GPU, dataloader workers with pinned memory.

Prediction: `Trainer.predict` with its defaults (fp32, data order), or tuned (bf16 weights, length-sorted rows).
"""

from __future__ import annotations

import tempfile
from typing import Any

LOOPS = ("xstilts", "Trainer default", "Trainer tuned")


def loss_wrapper(task_model: Any) -> Any:
    """The xstilts TaskModel behind the forward signature Trainer expects, returning xstilts' own loss."""
    import torch

    class WithLoss(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, labels: Any = None) -> dict[str, Any]:
            batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
            logits = self.inner(batch)
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = self.inner.fmt.loss(logits, batch)
            return out

    return WithLoss(task_model)


def hf_dataset(features: list, with_labels: bool = True) -> list[dict[str, Any]]:
    """xstilts features as the list-of-dicts dataset Trainer reads (the same token ids)."""
    rows = []
    for f in features:
        row: dict[str, Any] = {"input_ids": list(f.input_ids)}
        if with_labels:  # a tagging target is WordLabels: Trainer's collator reads its per-token label ids
            row["labels"] = list(f.target.labels) if hasattr(f.target, "labels") else f.target
        rows.append(row)
    return rows


def hf_collator(task_format: str, tok: Any) -> Any:
    """The collator a Trainer user writes for the task: dynamic padding to the longest row of the batch."""
    from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

    if task_format == "tagging":
        return DataCollatorForTokenClassification(tok, label_pad_token_id=-100)
    return DataCollatorWithPadding(tok)


def training_arguments(
    loop: str, config: Any, steps: int, device: Any, bf16: bool, seed: int, same_batches: bool
) -> Any:
    """TrainingArguments of `loop` ("Trainer default" or "Trainer tuned") for xstilts' TrainConfig `config`:
    the same learning rate, weight decay, linear schedule with warm-up rounded as xstilts rounds it, clipping."""
    from transformers import TrainingArguments

    tuned = loop == "Trainer tuned"
    shared = {
        "output_dir": tempfile.mkdtemp(prefix="bench-trainer-"),
        "per_device_train_batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "weight_decay": config.weight_decay,
        "warmup_steps": round(config.warmup_ratio * steps),
        "lr_scheduler_type": "linear",
        "max_grad_norm": config.max_grad_norm,
        "seed": seed,
        "use_cpu": device.type == "cpu",
        "report_to": "none",
        "save_strategy": "no",  # not a speed setting: keeps 470 MB checkpoints out of longer runs
        "disable_tqdm": True,
    }
    if same_batches:
        gpu_tuned = tuned and device.type == "cuda"
        return TrainingArguments(
            **shared,
            max_steps=steps,
            optim="adamw_torch_fused",
            bf16=tuned and bf16,
            dataloader_num_workers=4 if gpu_tuned else 0,
            dataloader_pin_memory=gpu_tuned,
        )
    own = {"bf16": True, "train_sampling_strategy": "group_by_length", "dataloader_pin_memory": False}
    return TrainingArguments(**shared, num_train_epochs=1, **({**own, "dataloader_num_workers": 0} if tuned else {}))


def trainer_for(
    loop: str,
    model: Any,
    features: list,
    config: Any,
    tok: Any,
    device: Any,
    bf16: bool,
    seed: int,
    steps: int,
    batches: list[list[int]] | None = None,
) -> Any:
    """A Trainer of `loop` on `model`, its word embeddings frozen as xstilts freezes them (before Trainer builds
    its optimizer); with `batches`, on exactly those batches and the attention kernel xstilts trains with."""
    from torch.utils.data import DataLoader
    from transformers import Trainer

    if config.freeze_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    collator = hf_collator(model.fmt.name, tok)
    args = training_arguments(loop, config, steps, device, bf16, seed, same_batches=batches is not None)
    if batches is None:
        return Trainer(model=loss_wrapper(model), args=args, train_dataset=hf_dataset(features),
                       data_collator=collator, processing_class=tok)  # fmt: skip
    if device.type == "cpu":  # xstilts trains with eager attention on CPU (its measured choice)
        model.encoder.set_attn_implementation("eager")

    class SameBatches(Trainer):
        def get_train_dataloader(self) -> Any:
            loader = DataLoader(self.train_dataset, batch_sampler=batches, collate_fn=collator,
                                num_workers=args.dataloader_num_workers, pin_memory=args.dataloader_pin_memory)  # fmt: skip
            return self.accelerator.prepare(loader)

    return SameBatches(model=loss_wrapper(model), args=args, train_dataset=hf_dataset(features),
                       data_collator=collator, processing_class=tok)  # fmt: skip


def predictor(model: Any, tok: Any, device: Any, batch_size: int, tuned: bool = False, bf16: bool = False) -> Any:
    """A Trainer for `Trainer.predict` on `model`: its defaults (fp32), or tuned (bf16 weights where the device has
    them; the caller sorts the rows by length)."""
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="bench-predict-"), per_device_eval_batch_size=batch_size,
                             use_cpu=device.type == "cpu", report_to="none", disable_tqdm=True,
                             bf16_full_eval=tuned and bf16)  # fmt: skip
    return Trainer(model=loss_wrapper(model), args=args, data_collator=hf_collator(model.fmt.name, tok),
                   processing_class=tok)  # fmt: skip
