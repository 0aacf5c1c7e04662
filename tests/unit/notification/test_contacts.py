"""The department contact registry: packaged sample data and the file format's checks."""

from pathlib import Path

import pytest
import yaml

from services.notification.contacts import ContactsError, load_contacts, parse_contacts
from services.notification.domain.phones import NotAMobile, national, normalise_mobile

DEPARTMENTS = Path(__file__).resolve().parents[3] / "services" / "referral" / "data" / "departments.yaml"


def test_the_packaged_registry_loads_and_every_number_is_a_mobile_in_e164() -> None:
    registry = load_contacts()
    assert registry.units and registry.escalation["centre_leader"]
    for unit in registry.units.values():
        for phone in (*unit.contact, *unit.head):
            assert phone.startswith("+86") and normalise_mobile(phone) == phone
    assert registry.mobiles("community@150203001000", "contact") == ("+8613904711121",)
    assert registry.mobiles("community@150203001000", "political_legal_committee") == ("+8613904719002",)
    assert registry.mobiles("nowhere@0", "contact") == ()


@pytest.mark.skipif(not DEPARTMENTS.exists(), reason="referral's department registry not present")
def test_every_registered_unit_is_a_unit_of_the_department_registry() -> None:
    doc = yaml.safe_load(DEPARTMENTS.read_text(encoding="utf-8"))
    units = {f"{u['type']}@{u['area']}" for u in doc["units"]}
    assert set(load_contacts().units) <= units


def test_webhooks_take_a_secret_from_the_environment() -> None:
    text = """
version: 1
departments:
  police_station@150203:
    webhook: {url: "https://gaj.example.gov.cn/hook", secret_env: HOOK_SECRET_GAJ, algorithm: sm3}
"""
    hook = parse_contacts(text, {"HOOK_SECRET_GAJ": "s"}).webhook("police_station@150203")
    assert hook is not None and (hook.secret, hook.style, hook.algorithm) == ("s", "hub", "sm3")
    assert "secret=" not in repr(hook)  # never printed
    with pytest.raises(ContactsError, match="HOOK_SECRET_GAJ is not set"):
        parse_contacts(text, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2", "version: 1"),
        ("version: 1\ndepartments: {community: {}}", "unit code"),
        ("version: 1\ndepartments: {a@1: {contact: {mobiles: ['12345']}}}", r"a@1.contact.mobiles\[0\]"),
        ("version: 1\ndepartments: {a@1: {webhook: {url: 'ftp://x', secret: s}}}", "http"),
        ("version: 1\nescalation: {mayor: {mobiles: []}}", "escalation"),
    ],
)
def test_a_malformed_registry_names_the_entry_never_the_number(text: str, message: str) -> None:
    with pytest.raises(ContactsError, match=message) as raised:
        parse_contacts(text, {})
    assert "12345" not in str(raised.value)


def test_mobile_numbers_in_every_common_spelling() -> None:
    for spelling in ("13812341234", "+86 138 1234 1234", "8613812341234", "138-1234-1234"):
        assert normalise_mobile(spelling) == "+8613812341234"
    assert national("+8613812341234") == "13812341234"
    for bad in ("010-12345678", "12345", "+1 650 253 0000"):
        with pytest.raises(NotAMobile):
            normalise_mobile(bad)


CENTRES = Path(__file__).resolve().parents[3] / "services" / "referral" / "data" / "centres.yaml"


def test_a_task_goes_to_its_centres_contact_for_the_kind_else_up_the_tree() -> None:
    registry = load_contacts()
    community = ["150203001001", "150203001000", "150203"]
    follow_up = registry.task_target(community, "follow_up")
    assert follow_up is not None and follow_up.centre.centre_id == "150203001001"
    assert follow_up.contact.mobiles == ("+8613904719121",)
    burst = registry.task_target(community, "weak_signal_burst")  # the community has nobody for it
    assert burst is not None and burst.centre.unit_code == "centre@150203001000"
    other_street = registry.task_target(["150203002000", "150203"], "repeat_reporter")
    assert other_street is not None and other_street.centre.centre_id == "150203"  # its default
    assert registry.task_target(["999999"], "follow_up") is None


@pytest.mark.skipif(not CENTRES.exists(), reason="referral's centre tree not present")
def test_every_centre_with_task_contacts_is_a_centre_of_the_tree() -> None:
    doc = yaml.safe_load(CENTRES.read_text(encoding="utf-8"))
    assert set(load_contacts().centres) <= {c["area"] for c in doc["centres"]}


def test_a_centre_system_takes_task_messages_when_asked_to() -> None:
    text = """
version: 1
centres:
  "150203001001":
    webhook: {url: "https://robot.example.cn/send", secret: s, style: dingtalk}
    tasks:
      default: {webhook: true}
"""
    registry = parse_contacts(text)
    target = registry.task_target(["150203001001"], "repeat_reporter")
    assert target is not None and target.contact.webhook and target.contact.mobiles == ()
    hook = registry.webhook("centre@150203001001")
    assert hook is not None and hook.style == "dingtalk"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('centres: {"15020": {tasks: {}}}', "area code"),
        ('centres: {"150203": {tasks: {visits: {mobiles: ["13904719101"]}}}}', "task kind"),
        ('centres: {"150203": {tasks: {follow_up: {webhook: true}}}}', "has no webhook"),
        ('centres: {"150203": {tasks: {follow_up: {}}}}', "at least one mobile"),
        ('centres: {"150203": {tasks: {follow_up: {mobiles: ["8888"]}}}}', "follow_up.mobiles[0]"),
    ],
)
def test_malformed_centre_task_contacts_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(ContactsError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        parse_contacts("version: 1\n" + text)
    assert "8888" not in str(err.value)  # the entry is named, never the number
