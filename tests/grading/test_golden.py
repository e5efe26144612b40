"""Golden IEC 61300-3-35 Ed.2 cases: a passing and a failing case for every row of every table,
at the band boundaries (exactly 3 µm, exactly 5 µm, ...). Expected outcomes are written by hand
from the standard's tables (docs/architecture.md), not derived from the YAML under test."""

from __future__ import annotations

import pytest

from fibervlm.grading import grade, load_table, zone_of
from fibervlm.schemas import Defect, ZoneGeometry

UM_PER_PX = 0.5
CENTER = (500.0, 500.0)
GEOMETRY = ZoneGeometry(
    center_px=list(CENTER), core_radius_px=9.0, cladding_radius_px=125.0, um_per_px=UM_PER_PX
)

# A radius (µm) well inside each zone, per fibre family.
MID_ZONE_RADIUS_UM = {
    "sm": {"A": 6.0, "B": 35.0, "C": 62.5, "D": 96.0, "outside": 140.0},
    "mm": {"A": 16.0, "B": 45.0, "C": 62.5, "D": 96.0, "outside": 140.0},
}


def defect_at(radius_um: float, *, type_: str, size_um: float) -> Defect:
    """A defect centred `radius_um` right of the fibre centre (scratches as a short vertical line)."""
    x = CENTER[0] + radius_um / UM_PER_PX
    y = CENTER[1]
    size_px = max(size_um / UM_PER_PX, 1.0)
    if type_ in ("scratch", "crack"):
        return Defect(
            type=type_,
            bbox=[x - size_px / 2, y - 5, size_px, 10],
            size_um=size_um,
            line_px=[x, y - 5, x, y + 5],
        )
    return Defect(type=type_, bbox=[x - size_px / 2, y - size_px / 2, size_px, size_px], size_um=size_um)


# (profile, zone, defect type, size µm, how many, expected verdict, failed rule or None)
CASES = [
    # --- single-mode PC ---
    ("sm-pc", "A", "scratch", 0.5, 0, "PASS", None),
    ("sm-pc", "A", "scratch", 0.5, 1, "FAIL", "sm-pc/A/scratches/anyum"),
    ("sm-pc", "A", "dig", 0.5, 0, "PASS", None),
    ("sm-pc", "A", "dig", 0.5, 1, "FAIL", "sm-pc/A/defects/anyum"),
    ("sm-pc", "B", "scratch", 3.0, 12, "PASS", None),
    ("sm-pc", "B", "scratch", 3.01, 1, "FAIL", "sm-pc/B/scratches/>3um"),
    ("sm-pc", "B", "dig", 1.99, 30, "PASS", None),
    ("sm-pc", "B", "dig", 2.0, 5, "PASS", None),
    ("sm-pc", "B", "dig", 2.0, 6, "FAIL", "sm-pc/B/defects/2-5um"),
    ("sm-pc", "B", "dig", 5.0, 5, "PASS", None),
    ("sm-pc", "B", "dig", 5.0, 6, "FAIL", "sm-pc/B/defects/2-5um"),
    ("sm-pc", "B", "dig", 5.01, 1, "FAIL", "sm-pc/B/defects/>5um"),
    ("sm-pc", "C", "scratch", 20.0, 10, "PASS", None),
    ("sm-pc", "C", "dig", 40.0, 10, "PASS", None),
    ("sm-pc", "D", "scratch", 20.0, 10, "PASS", None),
    ("sm-pc", "D", "dig", 10.0, 25, "PASS", None),
    ("sm-pc", "D", "dig", 10.01, 1, "FAIL", "sm-pc/D/defects/>10um"),
    ("sm-pc", "outside", "dig", 80.0, 3, "PASS", None),
    # --- single-mode APC: zone A allows 4 scratches <= 3 µm ---
    ("sm-apc", "A", "scratch", 3.0, 4, "PASS", None),
    ("sm-apc", "A", "scratch", 3.0, 5, "FAIL", "sm-apc/A/scratches/<=3um"),
    ("sm-apc", "A", "scratch", 3.01, 1, "FAIL", "sm-apc/A/scratches/>3um"),
    ("sm-apc", "A", "dig", 0.5, 0, "PASS", None),
    ("sm-apc", "A", "dig", 0.5, 1, "FAIL", "sm-apc/A/defects/anyum"),
    ("sm-apc", "B", "scratch", 3.0, 12, "PASS", None),
    ("sm-apc", "B", "scratch", 3.01, 1, "FAIL", "sm-apc/B/scratches/>3um"),
    ("sm-apc", "B", "dig", 1.99, 30, "PASS", None),
    ("sm-apc", "B", "dig", 5.0, 5, "PASS", None),
    ("sm-apc", "B", "dig", 2.0, 6, "FAIL", "sm-apc/B/defects/2-5um"),
    ("sm-apc", "B", "dig", 5.01, 1, "FAIL", "sm-apc/B/defects/>5um"),
    ("sm-apc", "C", "dig", 40.0, 10, "PASS", None),
    ("sm-apc", "C", "scratch", 20.0, 10, "PASS", None),
    ("sm-apc", "D", "scratch", 20.0, 10, "PASS", None),
    ("sm-apc", "D", "dig", 10.0, 25, "PASS", None),
    ("sm-apc", "D", "dig", 10.01, 1, "FAIL", "sm-apc/D/defects/>10um"),
    # --- multimode PC ---
    ("mm-pc", "A", "scratch", 3.0, 12, "PASS", None),
    ("mm-pc", "A", "scratch", 3.01, 1, "FAIL", "mm-pc/A/scratches/>3um"),
    ("mm-pc", "A", "dig", 5.0, 4, "PASS", None),
    ("mm-pc", "A", "dig", 5.0, 5, "FAIL", "mm-pc/A/defects/<=5um"),
    ("mm-pc", "A", "dig", 5.01, 1, "FAIL", "mm-pc/A/defects/>5um"),
    ("mm-pc", "B", "scratch", 5.0, 12, "PASS", None),
    ("mm-pc", "B", "scratch", 5.01, 1, "FAIL", "mm-pc/B/scratches/>5um"),
    ("mm-pc", "B", "dig", 4.99, 30, "PASS", None),
    ("mm-pc", "B", "dig", 5.0, 5, "PASS", None),
    ("mm-pc", "B", "dig", 10.0, 5, "PASS", None),
    ("mm-pc", "B", "dig", 10.0, 6, "FAIL", "mm-pc/B/defects/5-10um"),
    ("mm-pc", "B", "dig", 10.01, 1, "FAIL", "mm-pc/B/defects/>10um"),
    ("mm-pc", "C", "scratch", 20.0, 10, "PASS", None),
    ("mm-pc", "C", "dig", 40.0, 10, "PASS", None),
    ("mm-pc", "D", "scratch", 30.0, 10, "PASS", None),
    ("mm-pc", "D", "dig", 19.99, 30, "PASS", None),
    ("mm-pc", "D", "dig", 20.0, 5, "PASS", None),
    ("mm-pc", "D", "dig", 30.0, 5, "PASS", None),
    ("mm-pc", "D", "dig", 30.0, 6, "FAIL", "mm-pc/D/defects/20-30um"),
    ("mm-pc", "D", "dig", 30.01, 1, "FAIL", "mm-pc/D/defects/>30um"),
]


@pytest.mark.parametrize(("profile", "zone", "type_", "size_um", "count", "expected", "rule"), CASES)
def test_golden_case(profile, zone, type_, size_um, count, expected, rule):
    radius_um = MID_ZONE_RADIUS_UM[profile[:2]][zone]
    defects = [defect_at(radius_um, type_=type_, size_um=size_um) for _ in range(count)]
    verdict = grade(defects, GEOMETRY, profile)
    assert verdict.zones == [zone] * count
    assert verdict.pass_fail == expected
    assert verdict.failed_rule == rule


def test_every_table_row_has_a_passing_and_a_failing_case():
    for profile in ("sm-pc", "sm-apc", "mm-pc"):
        table = load_table(profile)
        for zone in table.zones:
            for kind, bands in (("scratches", zone.scratches), ("defects", zone.defects)):
                types = {"scratch"} if kind == "scratches" else {"dig"}
                outcomes = {c[5] for c in CASES if c[0] == profile and c[1] == zone.zone and c[2] in types}
                assert "PASS" in outcomes, (profile, zone.zone, kind)
                if any(b.max_count is not None for b in bands):
                    assert "FAIL" in outcomes, (profile, zone.zone, kind)


def test_types_map_to_the_right_kind():
    # Cracks are judged like scratches (by width), chips and contamination like digs (by diameter).
    radius = MID_ZONE_RADIUS_UM["sm"]["B"]
    assert grade([defect_at(radius, type_="crack", size_um=4.0)], GEOMETRY, "sm-pc").failed_rule == (
        "sm-pc/B/scratches/>3um"
    )
    for type_ in ("chip", "contamination"):
        verdict = grade([defect_at(radius, type_=type_, size_um=6.0)], GEOMETRY, "sm-pc")
        assert verdict.failed_rule == "sm-pc/B/defects/>5um"


def test_zone_boundaries_belong_to_the_inner_zone():
    table = load_table("sm-pc")
    on_boundary = defect_at(12.5, type_="dig", size_um=0.1)  # diameter exactly 25 µm
    just_outside = defect_at(12.51, type_="dig", size_um=0.1)
    assert zone_of(on_boundary, GEOMETRY, table) == "A"
    assert zone_of(just_outside, GEOMETRY, table) == "B"
    assert zone_of(defect_at(125.01, type_="dig", size_um=0.1), GEOMETRY, table) == "outside"


def test_a_scratch_is_zoned_by_its_nearest_point_to_the_centre():
    # A long scratch from zone D that passes within 5 µm of the centre lies in the core.
    y = CENTER[1] + 5.0 / UM_PER_PX
    scratch = Defect(type="scratch", bbox=[300, y, 400, 1], size_um=1.0, line_px=[300, y, 700, y])
    verdict = grade([scratch], GEOMETRY, "sm-pc")
    assert verdict.zones == ["A"]
    assert verdict.failed_rule == "sm-pc/A/scratches/anyum"


def test_all_violations_are_listed_in_table_order():
    defects = [defect_at(6.0, type_="dig", size_um=1.0), defect_at(96.0, type_="dig", size_um=15.0)]
    verdict = grade(defects, GEOMETRY, "sm-pc")
    assert [v.rule for v in verdict.violations] == ["sm-pc/A/defects/anyum", "sm-pc/D/defects/>10um"]
    assert verdict.violations[1].count == 1 and verdict.violations[1].max_count == 0
