"""IEC 61300-3-35 grading: tables as data, a pure grade(). Knows no models."""

from fibervlm.grading.grade import Verdict, grade, grade_report_fields, radial_distance_um, zone_of
from fibervlm.grading.tables import DEFAULT_EDITION, Band, GradingTable, ZoneRule, load_table, parse_band


def table_for_profile(profile: str, edition: str = DEFAULT_EDITION) -> GradingTable:
    """The table a fibre profile (`sm-pc | sm-apc | mm-pc`) is graded against."""
    return load_table(f"{edition}/{profile}")


__all__ = [
    "DEFAULT_EDITION",
    "Band",
    "GradingTable",
    "Verdict",
    "ZoneRule",
    "grade",
    "grade_report_fields",
    "load_table",
    "parse_band",
    "radial_distance_um",
    "table_for_profile",
    "zone_of",
]
