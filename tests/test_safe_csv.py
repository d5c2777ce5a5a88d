"""CSV outputs are safe to open in a spreadsheet (OWASP CSV injection) and read back exactly."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_models._core.io import FORMULA_START, PLAIN_NUMBER, read_csv, write_csv


def _raw(path) -> list[list[str]]:
    """The cells as a spreadsheet receives them (after the byte-order mark)."""
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_formula_cells_get_a_quote_numbers_do_not(tmp_path):
    df = pd.DataFrame({
        "text": ["=1+1", "+81 3", "-x", "@SUM(A1)", "\tTAB", "\rCR", "'already", "plain", "a=b", None],
        "number": [-1.5, 2.0, np.nan, -7.0, 0.0, 1e-9, 3.0, -0.0, 10.0, 11.0],
        "count": np.arange(-5, 5),
    })
    path = write_csv(df, tmp_path / "out" / "t.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads Japanese text
    rows = _raw(path)
    assert rows[0] == ["text", "number", "count"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+81 3", "'-x", "'@SUM(A1)", "'\tTAB", "'\rCR", "''already",
                                        "plain", "a=b", ""]
    assert [r[1] for r in rows[1:4]] == ["-1.5", "2.0", ""] and [r[2] for r in rows[1:3]] == ["-5", "-4"]
    back = read_csv(path)
    assert back["text"].tolist() == [*df["text"][:-1], ""]  # missing text reads as ""
    assert pd.to_numeric(back["count"]).tolist() == list(range(-5, 5))
    assert pd.to_numeric(back["number"].replace("", np.nan)).equals(df["number"])


def test_headers_and_the_index_are_text_too(tmp_path):
    df = pd.DataFrame({"-coef": [0.5, -0.25]}, index=pd.Index(["=cmd", "age"], name="term"))
    rows = _raw(write_csv(df, tmp_path / "hr.csv", index=True))
    assert rows == [["term", "'-coef"], ["'=cmd", "0.5"], ["age", "-0.25"]]
    back = read_csv(tmp_path / "hr.csv")
    assert list(back.columns) == ["term", "-coef"] and back["term"].tolist() == ["=cmd", "age"]
    unnamed = pd.DataFrame({"x": [1]}, index=["a"])
    assert _raw(write_csv(unnamed, tmp_path / "u.csv", index=True))[0] == ["", "x"]  # as pandas writes it


text_cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(text_cells, min_size=1, max_size=8))
def test_any_text_round_trips_and_never_starts_a_formula(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("csv") / "p.csv"
    write_csv(pd.DataFrame({"v": values, "n": range(len(values))}), path)
    assert read_csv(path)["v"].tolist() == values
    for cell in (r[0] for r in _raw(path)[1:]):  # a signed number is read as one, never as a formula
        assert not cell.startswith(FORMULA_START) or PLAIN_NUMBER.fullmatch(cell)


def test_a_signed_number_as_text_keeps_its_value(tmp_path):
    """An account id such as ``-123`` got a quote, so the CRM import files' key (``'-123``) matched no record:
    a signed number is a number to a spreadsheet, never a formula, and is written as it is. A sign followed by
    anything else (an expression, a phone number with spaces, a word) is still guarded."""
    ids = ["-123", "+42", "-0.5", "+1.5e3", "-1-1", "+81 3 1234", "-x", "-", "+.5", "-1e"]
    rows = _raw(write_csv(pd.DataFrame({"account_id": ids}), tmp_path / "ids.csv"))
    assert [r[0] for r in rows[1:]] == ["-123", "+42", "-0.5", "+1.5e3", "'-1-1", "'+81 3 1234", "'-x", "'-", "+.5",
                                        "'-1e"]
    assert read_csv(tmp_path / "ids.csv")["account_id"].tolist() == ids
