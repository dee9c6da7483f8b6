"""What a run's files may hold: config sections and checkpoint state checked field by field before use.

A hand-edited config.json ("256" or 256.0 for hidden_size, a key too many or too few) or checkpoint metadata of
the wrong types is answered with one RnnkitError naming the file and the field, never a traceback later on.
Kept free of numpy, like the configs it checks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rnnkit.errors import RnnkitError

_KINDS = {"int": int, "float": float, "str": str, "bool": bool, "list": list}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def check_value(value: Any, annotation: str, where: str) -> Any:
    """`value` if it fits `annotation` ("int", "float | None", "tuple[str, ...]"); JSON lists become tuples."""
    options = [a.strip() for a in annotation.split("|")]
    if value is None:
        if "None" in options:
            return None
        raise RnnkitError(f"{where}: expected {annotation}, got null")
    for kind in options:
        if kind.startswith("tuple["):
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return tuple(value)
        elif kind == "float":
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
        elif kind in _KINDS and type(value) is _KINDS[kind]:
            return value
    raise RnnkitError(f"{where}: expected {annotation}, got {_type_name(value)} {value!r:.40}")


def check_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RnnkitError(f"{where}: expected a JSON object, got {_type_name(value)}")
    return value


def check_keys(d: dict[str, Any], required: set[str], where: str, optional: set[str] = frozenset()) -> None:
    missing, unknown = sorted(required - d.keys()), sorted(d.keys() - required - optional)
    if missing:
        raise RnnkitError(f"{where}: missing {', '.join(missing)}")
    if unknown:
        raise RnnkitError(f"{where}: unknown key(s) {', '.join(unknown)}")


def config_from_dict(cls, value: Any, where: str, may_omit: set[str] = frozenset()):
    """An instance of the config dataclass `cls` from a JSON object, every field checked (and validate()d).

    Fields in `may_omit` (added after runs were first written) take their default when absent.
    """
    d = check_object(value, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(d, set(fields) - set(may_omit), where, optional=set(may_omit))
    given = {name: f for name, f in fields.items() if name in d}
    obj = cls(**{name: check_value(d[name], str(f.type), f"{where}.{name}") for name, f in given.items()})
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except RnnkitError as e:
            raise RnnkitError(f"{where}: {e}") from None
    return obj


def check_fields(d: Any, types: dict[str, str], where: str) -> dict[str, Any]:
    """A JSON object with exactly the keys of `types`, each of its type (see check_value)."""
    d = check_object(d, where)
    check_keys(d, set(types), where)
    return {k: check_value(d[k], t, f"{where}.{k}") for k, t in types.items()}


# the Trainer's part of a checkpoint's metadata (training.Trainer._state); "rng" and "data" are checked by
# the objects that load them
TRAINER_STATE = {
    "step": "int",
    "max_steps": "int | None",
    "best_val": "float | None",
    "bad_evals": "int",
    "loss_sum": "float",
    "loss_count": "int",
    "elapsed": "float",
    "targets_seen": "int",
}


def check_trainer_state(meta: Any, where: str) -> dict[str, Any]:
    """The checkpoint metadata with its Trainer fields checked: types, and counts that are not negative."""
    d = check_object(meta, where)
    missing = sorted({"rng", "data", *TRAINER_STATE} - d.keys())
    if missing:
        raise RnnkitError(f"{where}: missing {', '.join(missing)}")
    state = {k: check_value(d[k], t, f"{where}.{k}") for k, t in TRAINER_STATE.items()}
    for k in ("step", "bad_evals", "loss_count", "targets_seen", "elapsed"):
        if state[k] < 0:
            raise RnnkitError(f"{where}.{k}: must be >= 0, got {state[k]}")
    if state["max_steps"] is not None and state["max_steps"] < 1:
        raise RnnkitError(f"{where}.max_steps: must be >= 1, got {state['max_steps']}")
    check_object(d["rng"], f"{where}.rng")
    check_object(d["data"], f"{where}.data")
    return {**d, **state}


def check_engine(value: Any, where: str) -> dict[str, Any]:
    """A run's engine section (absent from runs made before the torch engine): the EngineConfig fields as
    strings, the number of processes as an int, and values the engines accept."""
    from rnnkit.engines.config import resolve_engine

    d = check_object(value, where)
    check_keys(d, set(), where, optional={"engine", "device", "precision", "world_size"})
    for key in ("engine", "device", "precision"):
        if key in d:
            check_value(d[key], "str", f"{where}.{key}")
    if "world_size" in d and check_value(d["world_size"], "int", f"{where}.world_size") < 1:
        raise RnnkitError(f"{where}.world_size: must be >= 1, got {d['world_size']}")
    try:
        resolve_engine(d)
    except RnnkitError as e:
        raise RnnkitError(f"{where}: {e}") from None
    return d
