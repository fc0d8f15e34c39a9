"""How one stage's weights are trained and scored, given features: train.py (the one training loop; sampling.py
for several tasks, optimizer.py, lazy_adamw.py and clipping.py for the step, buckets.py and graphs.py for the GPU
path), evaluate.py, task_model.py (encoder plus heads), device.py (device and precision), feature_cache.py,
adapters.py (LoRA), distributed.py (a batch split over processes)."""
