"""A small typed-schema validator for pipeline configs (dataclasses checked against YAML dicts).

Each config section is a dataclass whose type hints are the schema. :func:`from_dict` walks a
plain ``dict`` (as read by PyYAML) against it and raises :class:`ConfigError` naming the dotted
key, the expected type or allowed values, and what was given. Fields whose metadata says
``{"path": True}`` must name existing files (resolved relative to the config file).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from neuro_igc.errors import NeuroIGCError

__all__ = ["ConfigError", "from_dict", "to_dict", "path_field"]


class ConfigError(NeuroIGCError, ValueError):
    """A pipeline config that does not match the schema (message names the key and the file)."""


def path_field(default: Any = None, **kwargs: Any) -> Any:
    """A dataclass field holding a path to an existing file (checked on load)."""
    return dataclasses.field(default=default, metadata={"path": True}, **kwargs)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"a list of {_plural(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _plural(tp: Any) -> str:
    names = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}
    if tp in names:
        return names[tp]
    return f"items each {_type_name(tp)}"


def _fail(key: str, tp: Any, value: Any, source: str) -> ConfigError:
    return ConfigError(
        f"Invalid value for {key!r} in {source}: expected {_type_name(tp)}; got {value!r}."
    )


def _convert(tp: Any, value: Any, key: str, source: str, base: Path | None, is_path: bool) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise ConfigError(
                f"Invalid value for {key!r} in {source}: allowed are {shown}; got {value!r}."
            )
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return None
        non_null = [a for a in get_args(tp) if a is not type(None)]
        if len(non_null) == 1:  # Optional[X]: X's own (more precise) message
            try:
                return _convert(non_null[0], value, key, source, base, is_path)
            except ConfigError as exc:
                if f"{key!r}" not in str(exc) or "Missing file" in str(exc):
                    raise  # about an element ('x[1]') or a file: keep the precise message
                raise _fail(key, tp, value, source) from None
        errors = []
        for arg in get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _convert(arg, value, key, source, base, is_path)
            except ConfigError as exc:
                if "Missing file" in str(exc) or "Unknown key" in str(exc):
                    raise
                errors.append(exc)
        precise = [e for e in errors if f"{key}[" in str(e) or f"{key}." in str(e)]
        if len(precise) == 1:  # the value has the shape of one arm (a list, a mapping): its message
            raise precise[0]
        raise _fail(key, tp, value, source)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _fail(key, tp, value, source)
        (arg,) = get_args(tp)[:1] or (Any,)
        return [_convert(arg, v, f"{key}[{i}]", source, base, is_path) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(key, tp, value, source)
        kt, vt = get_args(tp) or (Any, Any)
        return {
            _convert(kt, k, key, source, base, False): _convert(vt, v, f"{key}.{k}", source, base, False)
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _fail(key, tp, value, source)
        return from_dict(tp, value, source=source, prefix=key, base=base)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(key, tp, value, source)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(key, tp, value, source)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(key, tp, value, source)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(key, tp, value, source)
        if is_path:
            path = Path(value).expanduser()
            if not path.is_absolute() and base is not None:
                path = base / path
            if not path.exists():
                raise ConfigError(
                    f"Missing file for {key!r} in {source}: {str(path)!r} does not exist; "
                    "fix the path (relative paths are read from the config file's folder)."
                )
            return str(path)
        return value
    raise TypeError(f"unsupported schema type {tp!r} for {key!r}")  # pragma: no cover


def from_dict(
    cls: type,
    data: dict[str, Any] | None,
    *,
    source: str = "config",
    prefix: str = "",
    base: Path | None = None,
):
    """Build dataclass ``cls`` from ``data``, validating keys, types, allowed values and paths.

    Parameters
    ----------
    cls : dataclass type
        The schema.
    data : dict or None
        Values as read from YAML; missing optional keys take the dataclass defaults.
    source : str, default "config"
        Name of the file (or other origin) used in error messages.
    prefix : str, default ""
        Dotted key of this section, for error messages.
    base : Path or None
        Folder relative paths are resolved against.
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(
            f"Invalid value for {prefix or 'the config'!r} in {source}: expected a mapping; got {data!r}."
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else str(unknown[0])
        allowed = ", ".join(repr(k) for k in fields)
        raise ConfigError(f"Unknown key {key!r} in {source}: allowed keys here are {allowed}.")
    kwargs = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"Missing required key {key!r} in {source}.")
            continue
        kwargs[name] = _convert(
            hints[name], data[name], key, source, base, bool(field.metadata.get("path"))
        )
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain (JSON/YAML-serializable) form of a config dataclass."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    return obj
