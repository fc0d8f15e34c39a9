"""Encoders: the built-in offline models and any Hugging Face model id or local directory."""
