"""Whether a hub id can be fetched from the Hugging Face Hub, decided in seconds.

Without network, transformers retries a hub id's files for minutes before it fails (4 min 52 s measured for
`xlm-roberta-base`). xstilts decides first: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set means offline; otherwise one
HEAD request for the model's config.json on the Hub endpoint ($HF_ENDPOINT, default https://huggingface.co), given
$XSTILTS_HUB_TIMEOUT seconds (default 5), must get the Hub's own answer: the file, a redirect to it, or "no such
model" / "gated", each of which carries the Hub's X-Repo-Commit or X-Error-Code header (as huggingface_hub reads
them). No answer, a refused connection or a reply without those headers (a proxy's or firewall's page) means
offline too. Offline, a hub id is read from the
local cache only, and refused in one line when it is not there. The request is made once per process and model,
and only for hub ids, never for local directories or built-in models."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path

from xstilts.errors import ModelError

TIMEOUT_ENV = "XSTILTS_HUB_TIMEOUT"
DEFAULT_TIMEOUT = 5.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "on", "yes", "true"}  # huggingface_hub's spelling of a set flag
_HUB_HEADERS = ("X-Repo-Commit", "X-Error-Code")  # on every answer of the Hub about a repository's file


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the Hub's redirect itself carries its headers; where it points does not matter here


_OPENER = urllib.request.build_opener(_NoRedirect)


class HubUnreachable(ModelError):
    """A hub id that is not cached while the Hub cannot be used: refused by every command, `plan` included."""


def offline_reason(model_id: str, revision: str | None = None) -> str | None:
    """Why `model_id` cannot be fetched from the Hub now ("HF_HUB_OFFLINE=1 (offline)", "the Hugging Face Hub
    (...) cannot be reached (...)"), or None when the Hub answers."""
    for variable in OFFLINE_VARIABLES:
        if os.environ.get(variable, "").strip().lower() in _TRUE:
            return f"{variable}={os.environ[variable]} (offline)"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return _unreachable(endpoint, model_id, revision or "main", _timeout())


def cached_config(model_id: str, revision: str | None = None) -> bool:
    """Whether the local Hugging Face cache holds the model's config.json (huggingface_hub's cache layout:
    $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; models--{org}--{name}/snapshots/*)."""
    hub_cache = os.environ.get("HF_HUB_CACHE") or str(
        Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub"
    )
    folder = Path(hub_cache) / f"models--{model_id.replace('/', '--')}"
    if revision is not None and (folder / "snapshots" / revision / "config.json").is_file():
        return True
    ref = folder / "refs" / (revision or "main")
    commit = ref.read_text().strip() if ref.is_file() else None
    return bool(commit) and (folder / "snapshots" / commit / "config.json").is_file()


def _timeout() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


@cache
def _unreachable(endpoint: str, model_id: str, revision: str, timeout: float) -> str | None:
    url = f"{endpoint}/{model_id}/resolve/{revision}/config.json"
    try:
        with _OPENER.open(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            headers, what = response.headers, f"HTTP {response.status}"
    except urllib.error.HTTPError as err:  # also redirects, which are not followed
        headers, what = err.headers, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:  # refused, unresolvable, no answer in time
        reason = getattr(err, "reason", err)
        headers, what = None, f"no answer within {timeout:g} s" if isinstance(reason, TimeoutError) else str(reason)
    if headers is not None and any(headers.get(name) for name in _HUB_HEADERS):
        return None  # the Hub answered (transformers reports a missing or gated model itself)
    if headers is not None:
        what = f"an {what} reply that is not the Hub's"
    return f"the Hugging Face Hub ({endpoint}) cannot be reached ({what}; HF_HUB_OFFLINE=1 skips this check)"
