"""Enumerations shared by the intake domain; values are the English code names of RULES.md."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    window = "window"
    phone = "phone"
    web = "web"
    grid_app = "grid_app"
    hotline12345 = "hotline12345"
    police110 = "police110"
    court = "court"
    procuratorate12309 = "procuratorate12309"
    petition = "petition"


class RequestType(StrEnum):
    consultation = "consultation"
    help = "help"
    complaint = "complaint"
    report = "report"
    suggestion = "suggestion"


class IdType(StrEnum):
    resident_id = "resident_id"
    passport = "passport"
    hk_macao_permit = "hk_macao_permit"
    taiwan_permit = "taiwan_permit"
    other = "other"


class RiskFlag(StrEnum):
    violence_threat = "violence_threat"
    self_harm_threat = "self_harm_threat"
    mass_gathering_risk = "mass_gathering_risk"
    vulnerable_person = "vulnerable_person"
    criminal_risk = "criminal_risk"


class RiskColour(StrEnum):
    red = "red"
    orange = "orange"
    yellow = "yellow"
    blue = "blue"

    @property
    def severity(self) -> int:
        """Higher is more severe: blue 0 … red 3."""
        return _COLOUR_SEVERITY[self]


class ResponseLevel(StrEnum):
    """The three "135" response levels, least to most demanding."""

    immediate = "immediate"
    time_limited = "time_limited"
    joint_consultation = "joint_consultation"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_COLOUR_SEVERITY = {RiskColour.blue: 0, RiskColour.yellow: 1, RiskColour.orange: 2, RiskColour.red: 3}
_LEVEL_RANK = {ResponseLevel.immediate: 0, ResponseLevel.time_limited: 1, ResponseLevel.joint_consultation: 2}
