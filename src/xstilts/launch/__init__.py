"""Scaling a run out, never changing what it computes: executors.py starts several runners on one machine
(`--jobs`) or as Ray tasks (`--executor ray`); launcher.py and worker.py run one training stage under
`accelerate launch` (DDP, FSDP, DeepSpeed). Model size as a study axis is elsewhere (similarity/model_size.py)."""
