"""Enumerations of the intake domain; values are the English code names of RULES.md.

Colour, response level and category are shared by every service: hub.contracts.vocabulary.
"""

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
    kiosk = "kiosk"  # self-service terminals (自助终端: 24-hour court kiosks), adapter system kiosk


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
