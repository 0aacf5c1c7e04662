"""Department contact registry: who hears of a department's referrals, as data (data/contacts.yaml).

Keyed by the referral's unit code (``<type>@<area>``, e.g. ``community@150203001000``). A unit lists
its contact person's and its head's mobiles and, optionally, its own system's webhook (URL + secret,
signed per request). The centre's escalation contacts (centre leaders, the political-legal committee)
are listed once. Mobiles are normalised to E.164 when loaded; a malformed file stops the service
at start with a message naming the entry (never the number).

Worklist tasks (待办: a follow-up due, a weak signal) go to people of a *centre*, not a unit: under
``centres`` each centre (its area code, as in referral's centres.yaml) lists, per task kind
(``follow_up``, ``weak_signal_burst``, ``repeat_reporter``, or ``default`` for any kind), the mobiles
to text and/or ``webhook: true`` for the centre's own system (its ``webhook``, e.g. the grid team's
work-group robot). A task goes to the first centre on its path (the centre, then the ones above it)
that has someone for its kind. Such messages are addressed as the unit ``centre@<area code>``.

Secrets: ``secret`` in the file is for development; a deployment gives ``secret_env`` (the name of an
environment variable holding it) so the file can be kept in configuration management.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from services.notification.domain.messages import DepartmentAudience
from services.notification.domain.phones import NotAMobile, normalise_mobile

WebhookStyle = Literal["hub", "dingtalk"]
ESCALATION_AUDIENCES = ("centre_leader", "political_legal_committee")
TASK_KINDS = ("follow_up", "weak_signal_burst", "repeat_reporter")
CENTRE_UNIT = "centre"  # centre@<area code>: the unit code of a centre's own recipients


class ContactsError(ValueError):
    pass


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str = field(repr=False)
    # hub: X-Hub-Timestamp/X-Hub-Signature headers + X-Hub-Delivery (idempotency key);
    # dingtalk: enterprise-chat robot (timestamp + sign on the URL).
    style: WebhookStyle = "hub"
    algorithm: str = "sha256"


@dataclass(frozen=True)
class UnitContacts:
    code: str
    name_zh: str
    contact: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    webhook: Webhook | None = None


@dataclass(frozen=True)
class TaskContact:
    """Who hears of one kind of task at one centre."""

    mobiles: tuple[str, ...] = ()
    webhook: bool = False  # the centre's own system (CentreContacts.webhook)


@dataclass(frozen=True)
class CentreContacts:
    centre_id: str
    name_zh: str
    tasks: Mapping[str, TaskContact] = field(default_factory=dict)  # task kind or "default"
    webhook: Webhook | None = None

    @property
    def unit_code(self) -> str:
        return f"{CENTRE_UNIT}@{self.centre_id}"


@dataclass(frozen=True)
class TaskTarget:
    """The recipients of a new task: the centre that has someone for it, and who."""

    centre: CentreContacts
    contact: TaskContact


@dataclass(frozen=True)
class ContactRegistry:
    units: Mapping[str, UnitContacts] = field(default_factory=dict)
    escalation: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    centres: Mapping[str, CentreContacts] = field(default_factory=dict)

    def unit(self, department: str) -> UnitContacts | None:
        return self.units.get(department)

    def task_target(self, centre_path: list[str], kind: str) -> TaskTarget | None:
        """The first centre on the path (the task's centre, then those above it) with a contact for
        this kind of task, or for any kind (``default``)."""
        for centre_id in centre_path:
            centre = self.centres.get(centre_id)
            if centre is None:
                continue
            contact = centre.tasks.get(kind) or centre.tasks.get("default")
            if contact is not None and (contact.mobiles or (contact.webhook and centre.webhook)):
                return TaskTarget(centre, contact)
        return None

    def mobiles(self, department: str, audience: DepartmentAudience) -> tuple[str, ...]:
        """E.164 mobiles of `audience` for a message about `department` (empty when none registered)."""
        if audience in ESCALATION_AUDIENCES:
            return self.escalation.get(audience, ())
        unit = self.units.get(department)
        if unit is None or audience == "webhook":
            return ()
        return unit.contact if audience == "contact" else unit.head if audience == "head" else ()

    def webhook(self, department: str) -> Webhook | None:
        kind, _, area = department.partition("@")
        if kind == CENTRE_UNIT and area in self.centres:
            return self.centres[area].webhook
        unit = self.units.get(department)
        return unit.webhook if unit else None


def parse_contacts(text: str, environ: Mapping[str, str] | None = None) -> ContactRegistry:
    environ = os.environ if environ is None else environ
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContactsError(f"contact registry is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise ContactsError("contact registry must be a mapping with version: 1")
    units: dict[str, UnitContacts] = {}
    for code, entry in (doc.get("departments") or {}).items():
        if not isinstance(code, str) or "@" not in code or not isinstance(entry, dict):
            raise ContactsError(f"department {code!r}: key must be a unit code <type>@<area> with a mapping")
        units[code] = UnitContacts(
            code=code,
            name_zh=str(entry.get("name_zh") or code),
            contact=_mobiles(entry.get("contact"), f"{code}.contact"),
            head=_mobiles(entry.get("head"), f"{code}.head"),
            webhook=_webhook(entry.get("webhook"), code, environ),
        )
    escalation: dict[str, tuple[str, ...]] = {}
    for audience, entry in (doc.get("escalation") or {}).items():
        if audience not in ESCALATION_AUDIENCES:
            raise ContactsError(f"escalation {audience!r}: must be one of {ESCALATION_AUDIENCES}")
        escalation[audience] = _mobiles(entry, f"escalation.{audience}")
    centres: dict[str, CentreContacts] = {}
    for centre_id, entry in (doc.get("centres") or {}).items():
        centre_id = str(centre_id)
        if not centre_id.isdigit() or len(centre_id) not in (6, 12) or not isinstance(entry, dict):
            raise ContactsError(
                f"centre {centre_id!r}: key must be a centre's area code (6 or 12 digits) with a mapping"
            )
        unit_code = f"{CENTRE_UNIT}@{centre_id}"
        webhook = _webhook(entry.get("webhook"), unit_code, environ)
        tasks: dict[str, TaskContact] = {}
        for kind, node in (entry.get("tasks") or {}).items():
            where = f"centres.{centre_id}.tasks.{kind}"
            if kind not in (*TASK_KINDS, "default"):
                raise ContactsError(f"{where}: task kind must be one of {(*TASK_KINDS, 'default')}")
            if not isinstance(node, dict):
                raise ContactsError(f"{where}: expected a mapping with 'mobiles' and/or 'webhook: true'")
            wants_hook = node.get("webhook", False)
            if not isinstance(wants_hook, bool):
                raise ContactsError(f"{where}.webhook: true or false (the centre's webhook is set once)")
            if wants_hook and webhook is None:
                raise ContactsError(f"{where}.webhook: the centre has no webhook")
            mobiles = _mobiles(node, where) if "mobiles" in node else ()
            if not mobiles and not wants_hook:
                raise ContactsError(f"{where}: name at least one mobile or webhook: true")
            tasks[kind] = TaskContact(mobiles, wants_hook)
        centres[centre_id] = CentreContacts(centre_id, str(entry.get("name_zh") or centre_id), tasks, webhook)
    return ContactRegistry(units, escalation, centres)


def _mobiles(entry: Any, where: str) -> tuple[str, ...]:
    if entry is None:
        return ()
    raw = entry.get("mobiles") if isinstance(entry, dict) else None
    if not isinstance(raw, list):
        raise ContactsError(f"{where}: expected a mapping with a 'mobiles' list")
    out: list[str] = []
    for i, value in enumerate(raw):
        try:
            out.append(normalise_mobile(str(value)))
        except NotAMobile as exc:
            raise ContactsError(f"{where}.mobiles[{i}]: {exc}") from None
    return tuple(dict.fromkeys(out))


def _webhook(entry: Any, code: str, environ: Mapping[str, str]) -> Webhook | None:
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise ContactsError(f"{code}.webhook: needs a url")
    url = entry["url"]
    if not url.startswith(("http://", "https://")):
        raise ContactsError(f"{code}.webhook.url must be http(s)")
    secret = entry.get("secret")
    if entry.get("secret_env"):
        secret = environ.get(str(entry["secret_env"]))
        if not secret:
            raise ContactsError(f"{code}.webhook: environment variable {entry['secret_env']} is not set")
    if not isinstance(secret, str) or not secret:
        raise ContactsError(f"{code}.webhook: needs a secret (or secret_env)")
    style = entry.get("style", "hub")
    if style not in ("hub", "dingtalk"):
        raise ContactsError(f"{code}.webhook.style must be hub or dingtalk")
    algorithm = str(entry.get("algorithm", "sha256"))
    if algorithm not in ("sha256", "sm3"):
        raise ContactsError(f"{code}.webhook.algorithm must be sha256 or sm3")
    return Webhook(url=url, secret=secret, style=cast(WebhookStyle, style), algorithm=algorithm)


def load_contacts(path: Path | None = None) -> ContactRegistry:
    """The registry at `path`, or the packaged data/contacts.yaml."""
    if path is not None:
        return parse_contacts(path.read_text(encoding="utf-8"))
    return _packaged()


@lru_cache(maxsize=1)
def _packaged() -> ContactRegistry:
    source = resources.files("services.notification.data").joinpath("contacts.yaml")
    return parse_contacts(source.read_text(encoding="utf-8"))
