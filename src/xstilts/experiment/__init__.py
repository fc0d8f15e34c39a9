"""An experiment from spec to stored results: plan.py turns a spec into a DAG of content-keyed stages, runner.py
runs the pending ones (locks.py, preflight.py), execute.py does one stage, checkpoint.py and store.py keep what a
stage produced (safetensors, SQLite), readback.py reads a finished or partial experiment back; cost.py,
plan_view.py and progress.py serve `plan` and `status`; leakage.py refuses training on evaluation data."""
