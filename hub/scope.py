"""Centre scoping, the one rule both services apply (issue 14 "Scoping everywhere"): a person belongs to
a centre and sees and acts on that centre's subtree only.

Centres are area codes (services/referral/data/centres.yaml): the district centre a GB/T 2260
six-digit code ("150203"), a street's centre its twelve-digit statistical code ("150203001000"), a
community's mediation room its own ("150203001001"). The codes nest (统计用区划代码: 6 digits county,
3 street, 3 community), and the centre tree is built along them (a child's code lies in its
parent's area), so "centre X is in the subtree of centre C" is a prefix test on the codes:

- district ``150203``        → every code starting ``150203`` (its streets, their communities);
- street   ``150203001000``  → every code starting ``150203001`` (the street and its communities);
- community ``150203001001`` → exactly ``150203001001``.

What a case's code is, each service decides (docs/decisions/0013-centre-scoping.md): the centre
holding it (referral's ``cases.centre_id``; intake copies it from referral's events) and, while no
centre holds it yet, its location (``street_code``). A case with neither, or whose code lies in no
street (a location the tree does not know), is the district's: visible to a district-level person
only. Red cases are before the district at once: a district sees its whole subtree anyway.

``centre=None`` means the whole hub (API clients and systems, as before named accounts existed).
Pure: no I/O, no framework; each service turns :func:`prefix` into its SQL condition in one place.
"""

from __future__ import annotations

import re
from enum import StrEnum

_DISTRICT = re.compile(r"^[1-8]\d{5}$")
_TWELVE = re.compile(r"^[1-8]\d{11}$")


class ScopeLevel(StrEnum):
    hub = "hub"  # no centre: the whole hub
    district = "district"
    street = "street"
    community = "community"


class UnknownCentre(ValueError):
    """The code is no district, street or community code."""


def level(centre: str | None) -> ScopeLevel:
    """The level of a person's centre by its code's shape (None: the whole hub)."""
    if centre is None:
        return ScopeLevel.hub
    if _DISTRICT.match(centre):
        return ScopeLevel.district
    if _TWELVE.match(centre) and centre[6:] != "000000":
        return ScopeLevel.street if centre[9:] == "000" else ScopeLevel.community
    raise UnknownCentre(f"{centre!r} is not a district, street or community code")


def prefix(centre: str | None) -> str | None:
    """Codes inside the centre's subtree are exactly those starting with this (None: everything)."""
    found = level(centre)
    if found is ScopeLevel.hub:
        return None
    assert centre is not None
    if found is ScopeLevel.district:
        return centre
    if found is ScopeLevel.street:
        return centre[:9]
    return centre


def contains(centre: str | None, code: str | None) -> bool:
    """True when ``code`` (a holding centre or a location) lies in ``centre``'s subtree.

    No code at all lies only in the whole hub and in a district (the district takes what no street
    holds)."""
    head = prefix(centre)
    if head is None:
        return True
    if not code:
        return level(centre) is ScopeLevel.district
    return code.startswith(head)


def sees_unplaced(centre: str | None) -> bool:
    """Whether a case with no holding centre and no location is visible: the hub and districts only."""
    return level(centre) in (ScopeLevel.hub, ScopeLevel.district)


def visible(centre: str | None, *, holding: str | None, location: str | None) -> bool:
    """The rule on one case: by the holding centre when one holds it, else by its location."""
    if holding:
        return contains(centre, holding)
    return contains(centre, location)
