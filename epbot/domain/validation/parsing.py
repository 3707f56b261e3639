"""Parsing raw (YAML-loaded) data into models: pydantic's errors become located, readable
issues, so a caller never sees a pydantic dump.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from epbot.domain.matrix import Matrix
from epbot.domain.playbook import LOCALES, Playbook
from epbot.domain.validation.issues import DataPath, Issue, did_you_mean

_ENUM_LABELS = {
    "id": "stage",
    "enters_stage": "stage",
    "kind": "step kind",
    "from": "due.from",
    "fault_class": "fault class",
    "default_severity": "severity",
    "severities": "severity",
    "broadcast_to": "broadcast target",
    "may_approve": "approval kind",
}


def _field_aliases(*models: type[BaseModel]) -> tuple[str, ...]:
    names: set[str] = set()
    for model in models:
        for name, field in model.model_fields.items():
            names.add(field.alias or name)
    return tuple(sorted(names))


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel] | None, loc: DataPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (list indexes skipped)."""
    current = model
    for key in loc:
        if current is None:
            return None
        if isinstance(key, int):
            continue
        field = next(
            (f for name, f in current.model_fields.items() if key in (name, f.alias)), None
        )
        current = _inner_model(field.annotation) if field is not None else None
    return current


def _label(loc: DataPath) -> str:
    """The name of the field at ``loc`` (its last key), for messages."""
    keys = [str(k) for k in loc if isinstance(k, str)]
    return keys[-1] if keys else "the document"


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _pydantic_issue(err: Any, model: type[BaseModel] | None) -> Issue:
    loc: DataPath = tuple(err["loc"])
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    name = _label(loc)
    if kind == "missing":
        parent = loc[:-1]
        if loc[-1] in LOCALES:
            return Issue(parent, f"missing {loc[-1]} translation of {_label(parent)}")
        return Issue(parent, f"missing field '{loc[-1]}'")
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        known = _field_aliases(owner) if owner is not None else ()
        return Issue(
            loc, f"unknown field '{loc[-1]}'" + did_you_mean(str(loc[-1]), known), at_key=True
        )
    if kind == "enum":
        label = _ENUM_LABELS.get(name, name)
        return Issue(loc, f"unknown {label} {value!r}: expected {ctx.get('expected', '?')}")
    if kind == "value_error":
        return Issue(loc, str(ctx.get("error", err["msg"])))
    if kind == "string_too_short":
        if name in LOCALES:
            return Issue(loc, f"empty {name} text of {_label(loc[:-1])}")
        return Issue(loc, f"{name} must not be empty")
    if kind == "too_short" and name == "people":
        return Issue(
            loc, "empty people list: name at least one person (primary first, then backups)"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return Issue(loc, f"{name} must be a mapping, got {_kind_of(value)}")
    if kind in ("tuple_type", "list_type"):
        return Issue(loc, f"{name} must be a list, got {_kind_of(value)}")
    if kind == "string_type":
        return Issue(loc, f"{name} must be a string, got {_kind_of(value)}")
    if kind == "bool_type" or kind == "bool_parsing":
        return Issue(loc, f"{name} must be true or false, got {_kind_of(value)}")
    return Issue(loc, f"{name}: {err['msg']}")


def pydantic_issues(exc: ValidationError, model: type[BaseModel] | None = None) -> list[Issue]:
    """Pydantic's errors as located, readable issues (one per error, in order).

    ``model`` (the root model validated) lets an unknown field suggest a close known one.
    """
    return [_pydantic_issue(err, model) for err in exc.errors(include_url=False)]


def parse_playbook(data: Any) -> tuple[Playbook | None, list[Issue]]:
    """Build a playbook from raw (YAML-loaded) data; ``None`` and the issues if it fails."""
    if data is None:
        return None, [Issue((), "the playbook file is empty")]
    try:
        return Playbook.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_issues(exc, Playbook)


def parse_matrix(data: Any) -> tuple[Matrix | None, list[Issue]]:
    """Build the responsibility matrix from raw data; ``None`` and the issues if it fails."""
    if data is None:
        return None, [Issue((), "the matrix file is empty")]
    try:
        return Matrix.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_issues(exc, Matrix)
