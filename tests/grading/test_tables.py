import itertools
import math

import pytest

from fibervlm.grading import load_table, parse_band


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("<=3", [0.0, 3.0], [3.0001]),
        ("<2", [0.0, 1.999], [2.0]),
        (">5", [5.0001, 1e6], [5.0]),
        (">=5", [5.0], [4.999]),
        ("2-5", [2.0, 5.0], [1.999, 5.001]),
        ("any", [0.0, 1e9], []),
    ],
)
def test_band_bounds(text, inside, outside):
    band = parse_band(text, None)
    assert all(band.contains(s) for s in inside)
    assert not any(band.contains(s) for s in outside)


def test_bad_band_is_refused_with_its_text():
    with pytest.raises(ValueError, match="'about 3'"):
        parse_band("about 3", 1)


@pytest.mark.parametrize("profile", ["sm-pc", "sm-apc", "mm-pc"])
def test_tables_cover_250_um_in_order_with_a_source(profile):
    table = load_table(profile)
    assert table.source.startswith("IEC 61300-3-35:2015")
    assert table.profile == profile
    edges = [(z.inner_diameter_um, z.outer_diameter_um) for z in table.zones]
    assert edges[0][0] == 0 and edges[-1][1] == 250
    assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))
    for zone in table.zones:
        for bands in (zone.scratches, zone.defects):
            # the bands of a rule tile [0, inf) without gap or overlap
            probes = [0.0, 1.0, 1.99, 2.0, 3.0, 3.01, 5.0, 5.01, 10.0, 10.01, 20.0, 30.0, 30.01, 1e6]
            for size in probes:
                assert sum(b.contains(size) for b in bands) == 1, (profile, zone.zone, size)
            assert math.isinf(max(b.high_um for b in bands))


def test_unknown_table_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="sm-pc"):
        load_table("sm-ufo")
