"""Tokenizers for watermark detection: the model's own, loaded without the model.

A ``tokenizer.json`` needs only the ``tokenizers`` package; a ``.gguf`` file, a model
folder and ``local:smollm2`` go through transformers (the ``hf`` extra).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hegui.trace._errors import WatermarkError
from hegui.trace._watermark import HF_HINT, TokenEncoder


def _from_pretrained(folder: str, **kwargs: Any) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    try:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise WatermarkError(f"{HF_HINT} ({exc})") from None

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return AutoTokenizer.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise WatermarkError(f"cannot load the tokenizer from {folder}: {exc}") from None


def load_tokenizer(spec: str) -> TokenEncoder:
    """Text -> ids for ``local:smollm2``, a ``.gguf`` file, a ``tokenizer.json`` or a folder."""
    if spec == "local:smollm2":  # the embedded model's GGUF, found without importing it
        from hegui.assess._local import smollm2_path

        try:
            path = smollm2_path()
        except ValueError as exc:
            raise WatermarkError(str(exc)) from None
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise WatermarkError(f"no tokenizer at {path}")
    if path.suffix == ".gguf":
        tokenizer = _from_pretrained(str(path.parent), gguf_file=path.name)
    elif path.is_file() and path.suffix == ".json":
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise WatermarkError(f"{HF_HINT} ({exc})") from None

        try:
            fast = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust binding raises a bare Exception
            raise WatermarkError(f"{path}: not a tokenizer file ({exc})") from None
        return lambda text: fast.encode(text, add_special_tokens=False).ids
    else:
        tokenizer = _from_pretrained(str(path))
    return lambda text: tokenizer.encode(text, add_special_tokens=False)
