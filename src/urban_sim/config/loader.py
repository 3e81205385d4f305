"""Reading scenario files: YAML or TOML, ``extends:`` inheritance, overrides, strict checks."""

from __future__ import annotations

import copy
import functools
import re
import tomllib
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from urban_sim.config.schema import Scenario
from urban_sim.errors import ConfigError, did_you_mean, nearest  # noqa: F401 (nearest re-exported)

M = TypeVar("M", bound=BaseModel)

SHIPPED_SCENARIOS = Path(str(resources.files("urban_sim") / "configs"))
"""Scenario files installed with the package (in a checkout also reachable as ``configs/``)."""
SHIPPED_EXPERIMENTS = Path(str(resources.files("urban_sim") / "experiments"))
"""Sensitivity and calibration experiment files installed with the package (``experiments/``)."""


def shipped_or_path(path: str | Path, folder: Path = SHIPPED_SCENARIOS) -> Path:
    """``path`` itself if it exists, else the shipped file of that name in ``folder``.

    Lets a user write ``urban-sim run baseline`` (or ``baseline.yaml``) anywhere, also where no
    ``configs/`` folder is at hand (a wheel install). A path that is neither is returned
    unchanged, so reading it raises the usual "file not found".
    """
    path = Path(path)
    if path.exists() or len(path.parts) != 1:
        return path
    for candidate in (folder / path.name, folder / f"{path.name}.yaml"):
        if candidate.is_file():
            return candidate
    return path


def _shipped_hint(path: Path) -> str:
    """For a missing bare name (``plann``): the nearest shipped scenario or experiment name."""
    if path.suffix:
        return ""
    names = sorted(p.stem for d in (SHIPPED_SCENARIOS, SHIPPED_EXPERIMENTS) for p in d.glob("*.y*ml"))
    hint = did_you_mean(path.name, names)
    return (f", and no shipped scenario or experiment has that name"
            f"{hint or ' (shipped: ' + ', '.join(names) + ')'}")


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars (the rules TOML also follows).

    Numbers: ``1.2e3``, ``2e-2``, ``1_000``, ``0x1F``, ``0o17``, ``.inf``, ``.nan``; a leading
    zero is decimal (``010`` is 10). Booleans are only ``true``/``false``, null is ``null``,
    ``~`` or empty; ``yes``, ``no``, ``on``, ``off`` and ``1:30`` stay text, so a lever or a
    name is never turned into a boolean or a base-60 number. Anchors and merge keys
    (``<<: *name``) work as in YAML 1.1. Used for every YAML file urban_sim reads.
    """

    yaml_implicit_resolvers: dict = {}


for _tag, _pattern, _first in (
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+", "-+0123456789"),
    ("float", r"[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", "-+0123456789."),
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("merge", r"<<", "<"),
):
    YamlLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(rf"^(?:{_pattern})$"),
                                     list(_first))


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node).replace("_", "")
    return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text, 10)


YamlLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def _duplicate_keys(node: yaml.Node, path: tuple[str, ...] = ()) -> tuple[str, int, int] | None:
    """First repeated key in any mapping below ``node``: (dotted key, line, first line)."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_keys(item, (*path, f"[{i}]"))
            if found:
                return found
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue
            name = str(key.value)
            dotted = ".".join((*path, name)).replace(".[", "[")
            if name in first:
                return dotted, key.start_mark.line + 1, first[name]
            first[name] = key.start_mark.line + 1
            found = _duplicate_keys(value, (*path, name))
            if found:
                return found
    return None


def load_yaml(text: str, path: Path) -> Any:
    """Parse YAML ``text`` with :class:`YamlLoader`, refusing repeated keys.

    Raises
    ------
    ConfigError
        ``file:line: duplicate key a.b.c (first at line n)`` for a key given twice in one
        mapping (keys brought in by a merge key ``<<`` may be overridden).
    yaml.YAMLError
        If the text is not YAML.
    """
    loader = YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        dup = _duplicate_keys(node)
        if dup:
            raise ConfigError(f"{path}:{dup[1]}: duplicate key {dup[0]} (first given at line "
                              f"{dup[2]}); remove one of them")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML file into a dict.

    YAML is read by the YAML 1.2 core-schema rules of :class:`YamlLoader` (numbers as in TOML)
    and a key repeated in one mapping is an error.

    Raises
    ------
    ConfigError
        If the file is missing, unparsable, or its top level is not a mapping.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a scenario or experiment file")
    if not path.is_file():
        raise ConfigError(f"{path}: file not found{_shipped_hint(path)}")
    try:
        data = copy.deepcopy(_parse(path.read_text(encoding="utf-8"), path))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys to values")
    return data


@functools.lru_cache(maxsize=64)
def _parse(text: str, path: Path) -> Any:
    """The parsed ``text`` of ``path``, once per process for the same text (a worker loads the
    same scenario for each of thousands of runs; parsing YAML costs milliseconds, reading the
    file microseconds). Callers get a deep copy."""
    return tomllib.loads(text) if path.suffix == ".toml" else load_yaml(text, path)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively by ``over`` (neither argument is modified)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unshared(node: Any) -> Any:
    """A copy of nested mappings and lists in which no two keys share an object (unlike
    ``copy.deepcopy``, which keeps YAML aliases aliased), so setting ``policy.investment.x``
    cannot also change ``history.investment.x``."""
    if isinstance(node, dict):
        return {k: _unshared(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unshared(v) for v in node]
    return node


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data['a']['b'] = value`` for ``dotted='a.b'``, creating mappings as needed."""
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {key!r} is not a mapping")
    node[keys[-1]] = value


def _resolve_raw(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], list[Path]]:
    path = Path(path).resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ConfigError(f"{path}: circular 'extends' ({chain})")
    raw = read_mapping(path)
    files = [path]
    if isinstance(raw.get("data_dir"), str) and raw["data_dir"]:
        raw["data_dir"] = str((path.parent / Path(raw["data_dir"]).expanduser()).resolve())
    parent = raw.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: key 'extends' must be a scenario name or file path")
        ppath = Path(parent)
        if not ppath.suffix:
            ppath = ppath.with_suffix(path.suffix)
        if not ppath.is_absolute():
            ppath = path.parent / ppath
        shipped = SHIPPED_SCENARIOS / ppath.name
        if not ppath.is_file() and len(Path(parent).parts) == 1 and shipped.is_file():
            ppath = shipped  # extends a shipped scenario by name
        if not ppath.is_file():
            raise ConfigError(f"{path}: key 'extends': scenario file {ppath} not found")
        base, pfiles = _resolve_raw(ppath, (*seen, path))
        raw = deep_merge(base, raw)
        files += pfiles
    return raw, files


def yaml_line(path: Path, loc: tuple[Any, ...], *, partial: bool = False) -> int | None:
    """1-based line of the node at ``loc`` (mapping keys and list indices) in a YAML file.

    Returns None for TOML files, unreadable files, or when ``loc`` is not in the file (with
    ``partial=True``: the line of the deepest part of ``loc`` that is).
    """
    if Path(path).suffix == ".toml":
        return None
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
            continue
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == str(key)]
            if match:
                line, node = match[0][0].start_mark.line + 1, match[0][1]
                continue
        return line if partial else None
    return line


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) is dict:
        return True
    return any(_is_mapping(a) for a in typing.get_args(annotation))


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Schema class of the mapping at ``loc`` below ``root``, or None.

    List indices and the user-chosen keys of ``dict[str, Model]`` fields are stepped over, so
    ``("parameters", "asc_outside", "lo")`` finds the schema of one parameter entry.
    """
    model: type[BaseModel] | None = root
    free_key = False
    for key in loc:
        if free_key or isinstance(key, int):
            free_key = False
            continue
        field = model.model_fields.get(str(key)) if model else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
        free_key = _is_mapping(field.annotation)
    return model


def describe_error(error: dict[str, Any], files: list[Path], root: type[BaseModel]) -> str:
    """One pydantic error as ``file:line: key ...`` with the nearest valid key for unknown keys.

    ``files`` are searched in order (a scenario and the files it extends) for the key's line.
    """
    loc = tuple(error["loc"])
    dotted = ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in loc).replace(".[", "[")
    where, line = files[0], None
    for f in files:
        line = yaml_line(f, loc)
        if line is not None:
            where = f
            break
    else:
        line = yaml_line(files[0], loc, partial=True)
    prefix = f"{where}:{line}" if line else f"{where}"
    if error["type"] == "extra_forbidden":
        model = model_at(root, loc[:-1])
        tip = did_you_mean(str(loc[-1]), model.model_fields) if model else ""
        return f"{prefix}: unknown key '{dotted or '(top level)'}'{tip}"
    if error["type"] == "missing":
        return f"{prefix}: missing required key '{dotted}'"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        return f"{prefix}: {dotted + ': ' if dotted else ''}{msg}"
    return f"{prefix}: key '{dotted}' = {error.get('input')!r}: {msg}{allowed_range(root, loc)}"


def allowed_range(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """``" (allowed range [0, 1])"`` from the bounds of the schema field at ``loc``, or ``""``."""
    model = model_at(root, loc[:-1]) if loc else None
    field = model.model_fields.get(str(loc[-1])) if model else None
    if field is None:
        return ""
    low = high = None
    for meta in field.metadata:
        for attr, side in (("ge", "["), ("gt", "("), ("le", "]"), ("lt", ")")):
            value = getattr(meta, attr, None)
            if value is not None and attr in ("ge", "gt"):
                low = f"{side}{value:g}" if isinstance(value, (int, float)) else f"{side}{value}"
            elif value is not None:
                high = f"{value:g}{side}" if isinstance(value, (int, float)) else f"{value}{side}"
    if low is None and high is None:
        return ""
    return f" (allowed range {low or '(-inf'}, {high or 'inf)'})"


def validate_mapping(root: type[M], raw: dict[str, Any], files: list[Path]) -> M:
    """Validate ``raw`` against the strict schema ``root``.

    Raises
    ------
    ConfigError
        Every problem in one message, ``file:line: ...`` joined by ``; ``.
    """
    try:
        return root.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("; ".join(describe_error(e, files, root) for e in exc.errors())) from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, resolve and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        YAML (``.yaml``/``.yml``) or TOML (``.toml``) scenario file, or the name of a shipped
        scenario (``"baseline"``). ``extends: NAME`` merges the file over ``NAME.yaml`` in the
        same folder, or over the shipped scenario ``NAME`` if there is none (recursively).
        A relative ``data_dir`` is relative to the file that names it.
    overrides : dict, optional
        Dotted keys to set after resolution, e.g. ``{"start_year": 2010}``.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        One message listing every problem as ``file:line: key ...`` with the nearest valid key
        for misspellings.
    """
    raw, files = _resolve_raw(shipped_or_path(path))
    scenario = validate_mapping(Scenario, raw, files)
    scenario._source = str(files[0])
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:  # a bad override is the command line's fault, not the file's
        raw = _unshared(raw)  # YAML aliases (policy: {<<: *history}) share nested mappings
        for key, value in given.items():
            set_dotted(raw, key, value)
        scenario = validate_mapping(Scenario, raw, [Path("command-line option")])
        scenario._source = str(files[0])
    return scenario


def with_overrides(scenario: Scenario, overrides: dict[str, Any], *, source: str | None = None) -> Scenario:
    """A copy of ``scenario`` with dotted keys set (e.g. ``{"policy.levers.land_reform": 0.8}``).

    Used by experiments to set factor values; the result is validated like a file. ``source``
    names where the overrides come from in error messages (default the scenario's file), e.g.
    ``"settings argument"`` for the Python API.

    Raises
    ------
    ConfigError
        Unknown key or value out of range (the message names the key).
    """
    raw = scenario.model_dump(mode="json")
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    origin = scenario._source or scenario.name
    out = validate_mapping(Scenario, raw, [Path(source or origin)])
    out._source = origin
    return out


def dump_scenario(scenario: Scenario) -> str:
    """Return the resolved scenario as self-contained YAML text (keys in schema order).

    ``extends`` is cleared: every inherited value is already in the text, so the file loads and
    runs on its own, wherever it is.
    """
    data = scenario.model_dump(mode="json")
    data["extends"] = None
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
