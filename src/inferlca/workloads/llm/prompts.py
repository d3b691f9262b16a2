"""Prompts of ``llm-generate``: read from a file (text lines or JSONL), seeded synthetic ones,
encoded to token ids, and fitted to the model's context.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, named
from inferlca.spec import OVERFLOW_POLICIES, parse_prompt_len

__all__ = ["OVERFLOW_POLICIES", "Prompt", "byte_encode", "encode_prompts", "fit_to_context",
           "parse_prompt_len", "read_prompt_file", "synthetic_prompts"]

log = logging.getLogger(__name__)


@dataclass
class Prompt:
    """One request's prompt: token ids, and the text when known."""

    input_ids: list[int]
    text: str | None = None
    max_new_tokens: int | None = None
    source: str = ""


def byte_encode(text: str, vocab_size: int) -> list[int]:
    """Encode text for a synthetic preset (no trained tokenizer): its UTF-8 bytes as ids 0..255."""
    if vocab_size < 256:
        raise InvalidValueError(f"byte encoding needs a vocabulary of at least 256, got {vocab_size}")
    return list(text.encode("utf-8"))


def synthetic_prompts(n: int, seed: int, vocab_size: int, prompt_len: tuple[int, int] = (32, 32),
                      avoid: Sequence[int] = ()) -> list[Prompt]:
    """``n`` seeded prompts of random token ids; lengths uniform in ``prompt_len`` (tokens)."""
    rng = np.random.default_rng(seed)
    lo, hi = prompt_len
    lengths = rng.integers(lo, hi + 1, size=n)
    banned = set(avoid)
    out = []
    for i, n_tok in enumerate(lengths):
        ids = rng.integers(0, vocab_size, size=int(n_tok))
        if banned:
            ids = np.array([t if t not in banned else (t + 1) % vocab_size for t in ids])
        out.append(Prompt([int(t) for t in ids], None, None, f"synthetic #{i}"))
    return out


def read_prompt_file(path: str | Path) -> list[dict[str, Any]]:
    """Read prompts from a text file (one per line) or JSONL; returns raw records.

    Each record has ``prompt`` (text) or ``input_ids``, optionally ``max_new_tokens``, and
    ``line`` (1-based). Raises :class:`InputFileError` for an unreadable, empty or malformed file.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(p, "prompt file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read the prompt file ({exc})") from None
    lines = raw.splitlines()
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise InputFileError(p, "the prompt file is empty; give one prompt per line, or JSONL objects "
                                'with "prompt" or "input_ids"')
    is_jsonl = p.suffix.lower() == ".jsonl" or first.lstrip().startswith("{")
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not is_jsonl:
            records.append({"prompt": line, "line": lineno})
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputFileError(p, f"not a JSON object ({exc.args[0]})", line=lineno) from None
        if not isinstance(obj, dict):
            raise InputFileError(p, 'expected a JSON object with "prompt" or "input_ids"', line=lineno)
        if "input_ids" in obj:
            ids = obj["input_ids"]
            if (not isinstance(ids, list) or not ids
                    or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in ids)):
                raise InputFileError(p, '"input_ids" must be a non-empty list of token ids >= 0',
                                     line=lineno)
        elif "prompt" in obj:
            if not isinstance(obj["prompt"], str) or not obj["prompt"]:
                raise InputFileError(p, '"prompt" must be a non-empty string', line=lineno)
        else:
            raise InputFileError(p, 'each object needs "prompt" (text) or "input_ids" (token ids)',
                                 line=lineno)
        mnt = obj.get("max_new_tokens")
        if mnt is not None and (not isinstance(mnt, int) or isinstance(mnt, bool) or mnt < 1):
            raise InputFileError(p, f'"max_new_tokens" must be an integer >= 1, got {mnt!r}', line=lineno)
        records.append({**obj, "line": lineno})
    return records


def encode_prompts(records: Sequence[dict[str, Any]], path: str | Path, tokenizer: Any,
                   vocab_size: int) -> list[Prompt]:
    """Turn prompt records into token ids with ``tokenizer`` (or UTF-8 bytes when it is None)."""
    out = []
    for rec in records:
        line = rec.get("line")
        if "input_ids" in rec:
            ids = [int(t) for t in rec["input_ids"]]
            bad = [t for t in ids if t >= vocab_size]
            if bad:
                raise InputFileError(path, f"token id {bad[0]} is outside the vocabulary (0..{vocab_size - 1})",
                                     line=line)
            text = None
        else:
            text = rec["prompt"]
            ids = list(tokenizer(text)["input_ids"]) if tokenizer is not None else byte_encode(text, vocab_size)
            if not ids:
                raise InputFileError(path, "the prompt encodes to no tokens", line=line)
        out.append(Prompt(ids, text, rec.get("max_new_tokens"), f"{Path(path).name}:{line}"))
    return out


def fit_to_context(prompts: list[Prompt], max_new_tokens: int, n_positions: int,
                   policy: str = "refuse") -> tuple[list[Prompt], list[str]]:
    """Apply the context-length policy; returns the prompts and warnings.

    ``refuse`` raises :class:`InvalidValueError` for the first prompt with
    ``len(prompt) + max_new_tokens > n_positions``; ``truncate`` keeps its last tokens.
    """
    if policy not in OVERFLOW_POLICIES:
        raise UnknownNameError("prompt overflow policy", policy, OVERFLOW_POLICIES)
    warnings: list[str] = []
    fitted = []
    for pr in prompts:
        new = pr.max_new_tokens or max_new_tokens
        if new >= n_positions:
            raise InvalidValueError(
                f"max-new-tokens {new} leaves no room for a prompt in the model's context of "
                f"{n_positions} tokens; use at most {n_positions - 1}")
        room = n_positions - new
        if len(pr.input_ids) <= room:
            fitted.append(pr)
            continue
        if policy == "refuse":
            raise InvalidValueError(
                f"prompt {pr.source} has {len(pr.input_ids)} tokens; with max-new-tokens {new} the "
                f"model's context of {n_positions} tokens allows at most {room}; shorten it, lower "
                f"max-new-tokens, or keep its last tokens with {named('prompt_overflow')} truncate")
        cut = len(pr.input_ids) - room
        warnings.append(f"prompt {pr.source}: truncated by {cut} tokens (kept the last {room}) to fit "
                        f"the context of {n_positions}")
        fitted.append(Prompt(pr.input_ids[-room:], pr.text, pr.max_new_tokens, pr.source))
    for w in warnings:
        log.warning(w)
    return fitted, warnings

