"""The one scoping rule (hub/scope.py): a centre's subtree by its area code, and its SQL form."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hub import scope
from hub.scope_sql import case_condition

DISTRICT, STREET, COMMUNITY = "150203", "150203001000", "150203001001"
OTHER_STREET, OTHER_COMMUNITY = "150203002000", "150203002001"


def test_levels_by_the_shape_of_the_code() -> None:
    assert scope.level(None) is scope.ScopeLevel.hub
    assert scope.level(DISTRICT) is scope.ScopeLevel.district
    assert scope.level(STREET) is scope.ScopeLevel.street
    assert scope.level(COMMUNITY) is scope.ScopeLevel.community
    for bad in ("", "15020", "150203000000", "abc", "1502030010010", "050203"):
        with pytest.raises(scope.UnknownCentre):
            scope.level(bad)


@pytest.mark.parametrize(
    ("centre", "code", "inside"),
    [
        (None, None, True),
        (None, "440105001000", True),
        (DISTRICT, STREET, True),
        (DISTRICT, COMMUNITY, True),
        (DISTRICT, DISTRICT, True),
        (DISTRICT, None, True),  # no location inside any street: the district's
        (DISTRICT, "150204001000", False),  # another district
        (STREET, STREET, True),
        (STREET, COMMUNITY, True),
        (STREET, OTHER_STREET, False),
        (STREET, OTHER_COMMUNITY, False),
        (STREET, DISTRICT, False),  # never upwards
        (STREET, None, False),
        (COMMUNITY, COMMUNITY, True),
        (COMMUNITY, STREET, False),
        (COMMUNITY, "150203001002", False),
        (COMMUNITY, None, False),
    ],
)
def test_subtree(centre: str | None, code: str | None, inside: bool) -> None:
    assert scope.contains(centre, code) is inside


def test_holding_centre_wins_over_location() -> None:
    # Delegated (下派) to a community while the location says only the street: the community holds it.
    assert scope.visible(COMMUNITY, holding=COMMUNITY, location=STREET)
    # Escalated (上报) from the community to the street: the community no longer sees it.
    assert not scope.visible(COMMUNITY, holding=STREET, location=COMMUNITY)
    # Nobody holds it yet (referral has not seen it): the location decides.
    assert scope.visible(COMMUNITY, holding=None, location=COMMUNITY)
    assert scope.visible(DISTRICT, holding=None, location=None)
    assert not scope.visible(STREET, holding=None, location=None)


def test_the_sql_condition_says_what_the_pure_rule_says() -> None:
    """Every (centre, holding, location) combination: the SQL form selects exactly what `visible` says."""
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    rows = sa.Table(
        "rows",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("holding", sa.String(12)),
        sa.Column("location", sa.String(12)),
    )
    meta.create_all(engine)
    codes = [None, DISTRICT, STREET, COMMUNITY, OTHER_STREET, OTHER_COMMUNITY, "150204001000", "15020_%01000"]
    combos = [(h, loc) for h in codes for loc in codes]
    with engine.begin() as conn:
        conn.execute(
            rows.insert(), [{"id": i, "holding": h, "location": loc} for i, (h, loc) in enumerate(combos)]
        )
        for centre in (None, DISTRICT, STREET, COMMUNITY, OTHER_COMMUNITY):
            where = case_condition(centre, holding=rows.c.holding, location=rows.c.location)
            found = set(conn.execute(sa.select(rows.c.id).where(where)).scalars())
            wanted = {
                i for i, (h, loc) in enumerate(combos) if scope.visible(centre, holding=h, location=loc)
            }
            assert found == wanted, centre
