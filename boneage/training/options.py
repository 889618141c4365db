"""Command-line options generated from a settings dataclass: the fields are the one source.

A field becomes an option when its metadata has ``help``; the rest of its metadata says how:
``flag`` (default ``--field-name``), ``choices``, ``metavar``, and ``negate`` for a boolean
that defaults to True and is switched off by a flag (``mask_background`` by ``--no-mask``).
The type, the default and whether it is required come from the field itself, so a default is
written once, in the dataclass. A field whose type is itself such a dataclass
(``TrainConfig.preprocess``) contributes its own options. The three training scripts
(``train.py``, ``train_segmenter.py``, ``train_wrist_check.py``) build their parsers this way.
"""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any


def add_options(parser: argparse.ArgumentParser, settings: type, prefix: str = "") -> None:
    """Add an option to ``parser`` for each field of ``settings`` that has help text."""
    hints = typing.get_type_hints(settings)
    for spec in fields(settings):
        kind = hints[spec.name]
        if is_dataclass(kind):
            add_options(parser, kind, f"{prefix}{spec.name}.")
        elif "help" in spec.metadata:
            _add_option(parser, spec, kind, prefix + spec.name)


def settings_from(settings: type, values: argparse.Namespace, prefix: str = "", **given: Any):
    """An instance of ``settings`` from parsed options; ``given`` sets fields that have none."""
    hints = typing.get_type_hints(settings)
    chosen = dict(given)
    for spec in fields(settings):
        if spec.name in chosen:
            continue
        if is_dataclass(hints[spec.name]):
            chosen[spec.name] = settings_from(hints[spec.name], values, f"{prefix}{spec.name}.")
        elif "help" in spec.metadata:
            chosen[spec.name] = _converted(getattr(values, prefix + spec.name), hints[spec.name])
    return settings(**chosen)


def _add_option(parser: argparse.ArgumentParser, spec: Field, kind: Any, dest: str) -> None:
    meta = spec.metadata
    default = _default(spec)
    options: dict[str, Any] = {"dest": dest}
    base = _base_type(kind)
    if base is bool:
        flag = meta.get("negate") or meta.get("flag") or _flag(spec.name)
        parser.add_argument(
            flag, action="store_false" if "negate" in meta else "store_true", help=meta["help"], **options
        )
        return
    if typing.get_origin(base) is tuple:
        options["nargs"] = "+"
        base = typing.get_args(base)[0]
    options["type"] = base
    flag = meta.get("flag") or _flag(spec.name)
    for key in ("choices", "metavar"):
        if key in meta:
            options[key] = meta[key]
    if "choices" not in options and "metavar" not in options:
        options["metavar"] = flag.lstrip("-").replace("-", "_").upper()
    if default is MISSING:
        options["required"] = meta.get("required", True)
        help_text = meta["help"]
    else:
        options["default"] = default
        help_text = meta["help"] if default in (None, ()) else f"{meta['help']} (default: {default})"
    parser.add_argument(flag, help=help_text, **options)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default(spec: Field) -> Any:
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return MISSING


def _base_type(kind: Any) -> Any:
    """``int | None`` -> int; ``Path`` -> Path; ``tuple[Path, ...]`` as it is."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    return kind


def _converted(value: Any, kind: Any) -> Any:
    if typing.get_origin(_base_type(kind)) is tuple:
        return tuple(value or ())
    if _base_type(kind) is Path and value is not None:
        return Path(value)
    return value
