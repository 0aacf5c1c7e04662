"""``procedures.yaml`` read into a :class:`ProcedureBook`, and a procedure as a document again: the
snapshot kept beside each referral, so a running deadline keeps the procedure (and version) it started
under when the file changes (:func:`procedure_for`). Errors name the offending path.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from hub.contracts.vocabulary import Colour, ResponseLevel
from hub.datafile import (
    DataFileError,
    expect_bool,
    expect_code,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
    expect_version,
    parse_mapping,
)

from .deadlines import ExtensionRule, LimitUnit, Procedure, ProcedureBook, TimeLimit
from .supervision import DEFAULT_POLICY, SupervisionPolicy

# --- loading ----------------------------------------------------------------------------------------


def load_procedures(text: str) -> ProcedureBook:
    """Parse ``procedures.yaml`` (see that file for the format); errors name the offending path."""
    data = expect_mapping(
        parse_mapping(text, "procedures"),
        "procedures",
        required={"version", "procedures"},
        optional={"supervision", "defaults"},  # ``defaults`` only holds YAML anchors
    )
    expect_version(data, "procedures")
    procedures: list[Procedure] = []
    claimed: dict[str, str] = {}
    for i, node in enumerate(expect_list(data["procedures"], "procedures.procedures")):
        procedure = _procedure(node, f"procedures[{i}]")
        if any(p.id == procedure.id for p in procedures):
            raise DataFileError(f"procedures[{i}].id", f"duplicate procedure id {procedure.id!r}")
        for category in procedure.categories:
            if category in claimed:
                raise DataFileError(
                    f"procedures[{i}].categories", f"{category!r} is already claimed by {claimed[category]!r}"
                )
            claimed[category] = procedure.id
        procedures.append(procedure)
    defaults = [p.id for p in procedures if p.is_default]
    if len(defaults) != 1:
        raise DataFileError(
            "procedures", f"exactly one procedure must be the default, found {defaults or 'none'}"
        )
    supervision = _supervision(data["supervision"]) if "supervision" in data else DEFAULT_POLICY
    return ProcedureBook(tuple(procedures), supervision)


def _procedure(node: object, where: str) -> Procedure:
    fields = expect_mapping(
        node,
        where,
        required={"id", "version", "name_zh", "acknowledge", "handling", "extension", "return_window"},
        optional={"default", "categories", "meeting", "acceptance", "basis"},
    )
    is_default = expect_bool(fields.get("default", False), f"{where}.default")
    categories = frozenset(
        expect_code(c, f"{where}.categories[{j}]")
        for j, c in enumerate(expect_list(fields.get("categories", []), f"{where}.categories"))
    )
    if not is_default and not categories:
        raise DataFileError(where, "a procedure must be the default or claim at least one category")
    ack_node = expect_mapping(
        fields["acknowledge"], f"{where}.acknowledge", required={c.value for c in Colour}
    )
    acknowledge = {Colour(k): _limit(v, f"{where}.acknowledge.{k}") for k, v in ack_node.items()}
    handling = _handling(fields["handling"], f"{where}.handling")
    ext_node = expect_mapping(
        fields["extension"], f"{where}.extension", required={"max_total"}, optional={"request_before_due"}
    )
    extension = ExtensionRule(
        _limit(ext_node["max_total"], f"{where}.extension.max_total"),
        expect_bool(ext_node.get("request_before_due", True), f"{where}.extension.request_before_due"),
    )
    units = {limit.unit for limit in handling.values()}
    if len(units) == 1 and extension.max_total.unit not in units:
        raise DataFileError(f"{where}.extension.max_total", "must use the same unit as the handling limits")
    return Procedure(
        id=expect_code(fields["id"], f"{where}.id"),
        version=expect_int(fields["version"], f"{where}.version", minimum=1),
        name_zh=expect_str(fields["name_zh"], f"{where}.name_zh"),
        is_default=is_default,
        categories=categories,
        acknowledge=acknowledge,
        handling=handling,
        extension=extension,
        return_window=_limit(fields["return_window"], f"{where}.return_window"),
        meeting=_limit(fields["meeting"], f"{where}.meeting") if fields.get("meeting") is not None else None,
        acceptance=(
            _limit(fields["acceptance"], f"{where}.acceptance")
            if fields.get("acceptance") is not None
            else None
        ),
    )


def _handling(node: object, where: str) -> dict[ResponseLevel, TimeLimit]:
    """One limit for every level (``"60 calendar_days"``), or a mapping with every level."""
    if isinstance(node, str):
        limit = _limit(node, where)
        return dict.fromkeys(ResponseLevel, limit)
    levels = expect_mapping(node, where, required={lv.value for lv in ResponseLevel})
    return {ResponseLevel(k): _limit(v, f"{where}.{k}") for k, v in levels.items()}


def _limit(node: object, where: str) -> TimeLimit:
    try:
        limit = TimeLimit.parse(expect_str(node, where))
    except ValueError as exc:
        raise DataFileError(where, str(exc)) from None
    if limit.amount < 1:
        raise DataFileError(where, "a time limit must be at least 1 unit")
    return limit


def _supervision(node: Any) -> SupervisionPolicy:
    where = "procedures.supervision"
    fields = expect_mapping(
        node, where, required={"reminder_at_percent", "yellow_card_after", "red_card_after"}
    )
    percent = expect_int(fields["reminder_at_percent"], f"{where}.reminder_at_percent", minimum=0)
    yellow = _limit(fields["yellow_card_after"], f"{where}.yellow_card_after")
    red = _limit(fields["red_card_after"], f"{where}.red_card_after")
    for name, limit in (("yellow_card_after", yellow), ("red_card_after", red)):
        if limit.unit is not LimitUnit.working_days:
            raise DataFileError(f"{where}.{name}", "supervision steps past the deadline count working_days")
    try:
        return SupervisionPolicy(Fraction(percent, 100), yellow.amount, red.amount)
    except ValueError as exc:
        raise DataFileError(where, str(exc)) from None


# --- procedure snapshots: a running deadline keeps the procedure (and version) it started under ----


def procedure_document(procedure: Procedure) -> dict[str, Any]:
    """The procedure as a document in ``procedures.yaml``'s format (stored beside each referral)."""
    handling = {level.value: str(limit) for level, limit in procedure.handling.items()}
    document: dict[str, Any] = {
        "id": procedure.id,
        "version": procedure.version,
        "name_zh": procedure.name_zh,
        "default": procedure.is_default,
        "categories": sorted(procedure.categories),
        "acknowledge": {colour.value: str(limit) for colour, limit in procedure.acknowledge.items()},
        "handling": handling,
        "extension": {
            "max_total": str(procedure.extension.max_total),
            "request_before_due": procedure.extension.request_before_due,
        },
        "return_window": str(procedure.return_window),
    }
    if procedure.meeting is not None:
        document["meeting"] = str(procedure.meeting)
    if procedure.acceptance is not None:
        document["acceptance"] = str(procedure.acceptance)
    return document


def procedure_from_document(document: Mapping[str, Any]) -> Procedure:
    """The inverse of :func:`procedure_document` (validated like a procedures.yaml entry)."""
    node = dict(document)
    if not node.get("default") and not node.get("categories"):
        node["categories"] = ["__snapshot__"]  # a non-default snapshot claims nothing any more
    return _procedure(node, f"snapshot {node.get('id')}@v{node.get('version')}")


def procedure_for(
    book: ProcedureBook, procedure_id: str, version: int, snapshot: Mapping[str, Any] | None
) -> Procedure:
    """The procedure a referral runs under: the book's if it is still that version, else its snapshot."""
    try:
        current = book.get(procedure_id)
    except KeyError:
        current = None
    if current is not None and current.version == version:
        return current
    if snapshot is not None:
        return procedure_from_document(snapshot)
    if current is not None:
        return current  # dispatched before snapshots were kept: the best we have
    raise KeyError(f"no procedure {procedure_id!r} (v{version}) in force or recorded")
