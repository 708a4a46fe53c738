"""Typed settings across a component boundary: a frozen dataclass goes into a component's parameters as JSON
once (to_json) and is read back once, whole and checked (from_json), so no code reads settings by key.
Nested dataclasses and tuples come back as they went in."""
import dataclasses
import json
import typing
from typing import Any, Dict, Type, TypeVar

T = TypeVar("T")


def to_dict(settings: Any) -> Dict[str, Any]:
    return dataclasses.asdict(settings)


def to_json(settings: Any) -> str:
    return json.dumps(to_dict(settings), sort_keys=True)


def from_dict(cls: Type[T], values: Dict[str, Any], where: str) -> T:
    """cls from a dict that holds at least its fields (other keys, Vertex AI's say, are left); `where` names
    the dict in the error, which means the pipeline was compiled by other code."""
    hints = typing.get_type_hints(cls)
    missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in values)
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}: compile the pipeline again")
    return cls(**{f.name: _typed(hints[f.name], values[f.name], f"{where}.{f.name}") for f in dataclasses.fields(cls)})


def from_json(cls: Type[T], text: str, where: str) -> T:
    return from_dict(cls, json.loads(text), where)


def _typed(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if typing.get_origin(hint) is tuple:
        return tuple(value)
    return value
