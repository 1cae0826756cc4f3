"""Reading a journey definition from a JSON or YAML file, with errors that say where."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lifetide.journeys.definition import Journey

SUFFIXES = (".json", ".yaml", ".yml")
BUNDLED = Path(__file__).parent / "bundled"


class _Loader(yaml.SafeLoader):
    """YAML's safe loader with YAML 1.2's numbers and booleans, not YAML 1.1's.

    Otherwise `until_local_time: 9:00` reads as the integer 540, which a time field would take
    as nine minutes past midnight, and a branch's `yes:` and `no:` keys, or a segment
    trigger's `on:`, read as the booleans true and false.
    """


_REPLACED = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:bool")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


class JourneyFileError(ValueError):
    """A journey file that cannot be used: the message names the file and the place in it."""


def load_journey(path: Path) -> Journey:
    """The journey defined in `path` (.json, .yaml or .yml)."""
    if path.suffix.lower() not in SUFFIXES:
        raise JourneyFileError(f"{path}: a journey file ends in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise JourneyFileError(f"{path}: cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise JourneyFileError(f"{path}: is not UTF-8 text") from None
    return parse_journey(text, path.name, yaml_text=path.suffix.lower() != ".json")


def parse_journey(text: str, name: str = "<journey>", *, yaml_text: bool = True) -> Journey:
    """The journey in `text` (YAML, which also reads JSON; or strict JSON)."""
    data = _document(text, name, yaml_text)
    try:
        return Journey.model_validate(data)
    except ValidationError as err:
        lines = []
        for error in err.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"{name}: {where}: {str(error['msg']).removeprefix('Value error, ')}")
        raise JourneyFileError("\n".join(lines)) from None


def _document(text: str, name: str, yaml_text: bool) -> Any:
    try:
        data = yaml.load(text, Loader=_Loader) if yaml_text else json.loads(text)  # noqa: S506
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
        raise JourneyFileError(f"{name}: not valid YAML at {where}") from None
    except json.JSONDecodeError as err:
        raise JourneyFileError(
            f"{name}: not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    if not isinstance(data, dict):
        raise JourneyFileError(f"{name}: a journey is a mapping with name, trigger, start, steps")
    return data


def bundled_journeys() -> dict[str, Journey]:
    """The ready-to-start journeys shipped with Lifetide, by file stem."""
    return {path.stem: load_journey(path) for path in sorted(BUNDLED.glob("*.yaml"))}
