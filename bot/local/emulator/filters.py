"""Stream's filter conditions (`{"field": value}` or `{"field": {"$op": operand}}`), checked
against the fields and operators an endpoint allows (its OpenAPI `x-stream-filter-fields`) and
compiled into a predicate.

A bare value means `$eq`. A field whose value is a set (a participant's published tracks)
matches `$eq` when it holds the operand and `$in` when it holds any of them. A field Stream
allows but the emulator does not model is refused with a sentence saying so, apart from a field
Stream does not allow at all.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from bot.local.emulator.errors import Invalid
from bot.util.timefmt import parse_stream_time

T = TypeVar("T")
Kind = Literal["string", "bool", "date"]
Value = str | bool | float | frozenset[str] | None
Predicate = Callable[[T], bool]

FIELD = "filter_conditions"
_LISTS = frozenset({"$in", "$nin"})
_ORDERED: Mapping[str, Callable[[Any, Any], Any]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class FilterField(Generic[T]):
    kind: Kind
    operators: frozenset[str]
    read: Callable[[T], Value]
    choices: tuple[str, ...] = ()  # the only values a string operand may take, if any


def field(
    kind: Kind, operators: str, read: Callable[[T], Value], choices: tuple[str, ...] = ()
) -> FilterField[T]:
    """`field("string", "$eq $in", lambda x: x.id)`."""
    return FilterField(kind, frozenset(operators.split()), read, choices)


def compile_filter(
    conditions: Mapping[str, object] | None,
    fields: Mapping[str, FilterField[T]],
    *,
    not_modelled: Collection[str] = (),
) -> Predicate[T]:
    checks: list[Predicate[T]] = []
    for name, condition in (conditions or {}).items():
        if name.startswith("$"):
            raise Invalid.field(FIELD, f"{name} is not supported by the emulator")
        spec = fields.get(name)
        if spec is None:
            if name in not_modelled:
                raise Invalid.field(
                    FIELD, f"filter field {name!r} is not supported by the emulator"
                )
            allowed = ", ".join(sorted([*fields, *not_modelled]))
            raise Invalid.field(
                FIELD, f"filter field {name!r} is not allowed here (allowed: {allowed})"
            )
        checks.append(_compile(name, spec, condition))
    return lambda item: all(check(item) for check in checks)


def _compile(name: str, spec: FilterField[T], condition: object) -> Predicate[T]:
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    if not condition:
        raise Invalid.field(FIELD, f"{name}: the condition is empty")
    tests: list[Callable[[Value], bool]] = []
    for op, operand in condition.items():
        if op not in spec.operators:
            allowed = ", ".join(sorted(spec.operators))
            raise Invalid.field(
                FIELD, f"{name}: operator {op!r} is not allowed (use {allowed})"
            )
        checked = _operand(name, spec.kind, op, operand)
        if spec.choices:
            _check_choices(name, spec.choices, checked)
        tests.append(_test(op, checked))
    read = spec.read
    return lambda item: all(test(read(item)) for test in tests)


def _operand(name: str, kind: Kind, op: str, operand: object) -> object:
    if op in _LISTS:
        if not isinstance(operand, list) or not operand:
            raise Invalid.field(FIELD, f"{name}: {op} takes a non-empty list")
        return frozenset(_scalar(name, kind, op, item) for item in operand)
    return _scalar(name, kind, op, operand)


def _check_choices(name: str, choices: tuple[str, ...], operand: object) -> None:
    values = operand if isinstance(operand, frozenset) else {operand}
    for value in sorted(map(str, values)):
        if value not in choices:
            raise Invalid.field(
                FIELD, f"{name}: {value!r} is not one of {', '.join(choices)}"
            )


def _scalar(name: str, kind: Kind, op: str, operand: object) -> str | bool | float:
    if kind == "bool":
        if not isinstance(operand, bool):
            raise Invalid.field(FIELD, f"{name}: {op} takes true or false")
        return operand
    if not isinstance(operand, str) or (op == "$autocomplete" and not operand.strip()):
        raise Invalid.field(FIELD, f"{name}: {op} takes a string")
    if kind == "date":
        try:
            return parse_stream_time(operand).timestamp()
        except ValueError:
            raise Invalid.field(
                FIELD, f"{name}: {operand!r} is not an RFC 3339 time"
            ) from None
    return operand


def _test(op: str, operand: object) -> Callable[[Value], bool]:
    def holds(value: Value) -> bool:
        if isinstance(value, frozenset):
            if op == "$eq":
                return operand in value
            if op == "$in":
                return isinstance(operand, frozenset) and bool(value & operand)
            return False
        if value is None:
            return False
        if op == "$eq":
            return value == operand
        if op == "$ne":
            return value != operand
        if op == "$in":
            return isinstance(operand, frozenset) and value in operand
        if op == "$nin":
            return isinstance(operand, frozenset) and value not in operand
        if op == "$autocomplete":
            return isinstance(value, str) and isinstance(operand, str) and _autocompletes(
                value, operand
            )
        compare = _ORDERED.get(op)
        comparable = (isinstance(value, str) and isinstance(operand, str)) or (
            isinstance(value, float) and isinstance(operand, float)
        )
        return compare is not None and comparable and bool(compare(value, operand))

    return holds


def _autocompletes(value: str, prefix: str) -> bool:
    """⚠ Stream documents `$autocomplete` as a prefix match; here any word of the value that
    starts with the operand (case-insensitive) matches, so "ro" finds "Bob Ross"."""
    wanted = prefix.strip().casefold()
    return any(word.casefold().startswith(wanted) for word in _WORD.findall(value)) or (
        value.casefold().startswith(wanted)
    )
