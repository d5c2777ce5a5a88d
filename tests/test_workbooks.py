"""Excel workbooks as ``engage fit`` and ``engage survival`` tables: read as a CSV of the same sheet is read, the
sheet chosen by name, and what cannot be read (no such sheet, an empty one, formulas never computed) said."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import openpyxl
import pandas as pd
import pytest

from engage_models._core.errors import DataError
from engage_models._core.io import read_table, reading_notes


def _accounts(n=120, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tier = rng.choice(["basic", "pro", "max"], n)
    rate = 0.05 * np.where(tier == "basic", 2.0, np.where(tier == "pro", 1.0, 0.5))
    t, c = rng.exponential(1 / rate), rng.uniform(3, 48, n)
    return pd.DataFrame({"customer": [f"C{i:03d}" for i in range(n)], "tier": tier,
                         "users": rng.integers(1, 40, n), "fee": np.round(rng.uniform(10, 500, n), 2),
                         "tenure": np.round(np.minimum(t, c), 1), "churned": (t <= c).astype(int),
                         "as_of": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")})


def _book(path, sheets: dict[str, list[list]]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_a_sheet_reads_as_the_csv_of_the_same_table(tmp_path):
    """The first sheet of a workbook pandas wrote is the frame read_table makes of the same table's CSV: numbers
    as numbers, dates (Excel dates) as the text a CSV holds, text as text; a named sheet is read instead."""
    own = _accounts()
    with pd.ExcelWriter(tmp_path / "t.xlsx") as xl:
        own.to_excel(xl, sheet_name="accounts", index=False)
        own.head(5).to_excel(xl, sheet_name="sample", index=False)
    own.to_csv(tmp_path / "t.csv", index=False)
    book, csv = read_table(tmp_path / "t.xlsx"), read_table(tmp_path / "t.csv")
    pd.testing.assert_frame_equal(book, csv)
    assert book["as_of"].iloc[0] == own["as_of"].iloc[0].strftime("%Y-%m-%d")
    assert len(read_table(tmp_path / "t.xlsx", sheet="sample")) == 5
    assert reading_notes(book, "t.xlsx") == ["t.xlsx: read the sheet 'accounts'; the workbook's other sheet, "
                                             "'sample', is not read (--sheet NAME reads another)"]


def test_cells_keep_their_type_and_are_read_as_a_csv_reads_them(tmp_path):
    """An id typed as text keeps its zeros; a column mixing numbers and words is text (engage fit and survival then
    name the words); a text column of thousands commas is numbers; a missing word is missing and counted; a date with
    a time keeps it; a formula is its stored value."""
    path = _book(tmp_path / "t.xlsx", {"Data": [
        ["id", "seats", "size", "amount", "note", "when", "twice"],
        ["007", 3, 3, "45,200.00", "NA", dt.datetime(2024, 1, 31), 6],
        ["010", "n/a", "many", "1,234,567", "ok", dt.datetime(2024, 2, 1, 10, 30), 8],
        ["011", 5, 5.5, "950", "ok", dt.date(2024, 2, 2), 10]]})
    wb = openpyxl.load_workbook(path)
    wb["Data"]["G2"] = "=B2*2"  # a formula Excel computed: its value stored beside it (written here by hand)
    wb.save(path)
    _store_value(path, "G2", 6)
    df = read_table(path)
    assert df["id"].tolist() == ["007", "010", "011"]
    assert df["seats"].iloc[[0, 2]].tolist() == [3.0, 5.0] and pd.isna(df["seats"].iloc[1])  # "n/a": missing
    assert df["size"].tolist() == ["3", "many", "5.5"]  # as a CSV reads it: text, the word named by fit and survival
    assert df["amount"].tolist() == [45200.0, 1234567.0, 950.0]
    assert df["note"].isna().tolist() == [True, False, False]
    assert df["when"].tolist() == ["2024-01-31", "2024-02-01 10:30:00", "2024-02-02"]
    assert df["twice"].tolist() == [6, 8, 10]
    assert df.attrs["reading"]["missing_words"] == {"seats": {"cells": 1, "words": ["n/a"]},
                                                   "note": {"cells": 1, "words": ["NA"]}}


def _store_value(path, ref, value):
    """The workbook at ``path`` with the cached value ``value`` beside the formula in ``ref``, as Excel saves it
    (openpyxl writes a formula with no value)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    name = "xl/worksheets/sheet1.xml"
    xml = items[name].decode()
    xml, n = re.subn(rf'(<c r="{ref}"[^>]*>)<f>([^<]*)</f><v\s*/?>(?:</v>)?', rf"\1<f>\2</f><v>{value}</v>", xml)
    assert n == 1, xml
    items[name] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in items.items():
            z.writestr(k, v)


def test_a_title_above_the_header_and_names_over_merged_cells_are_skipped_and_said(tmp_path):
    rows = [["Churn report, Q3"], [], ["Customer", None, "Usage", None],
            ["id", "plan", "logins", "seats"], ["A1", "pro", 12, 3], [], ["A2", "basic", 4, 1]]
    path = _book(tmp_path / "t.xlsx", {"Report": rows})
    wb = openpyxl.load_workbook(path)
    wb["Report"].merge_cells("A3:B3")
    wb["Report"].merge_cells("C3:D3")
    wb.save(path)
    df = read_table(path)
    assert df.columns.tolist() == ["id", "plan", "logins", "seats"]
    assert df["logins"].tolist() == [12, 4]
    assert df.attrs["reading"]["sheet"]["header_row"] == 4 and df.attrs["reading"]["sheet"]["skipped"] == [1, 3]
    notes = reading_notes(df, "t.xlsx")
    assert ("t.xlsx: the header is row 4 of the sheet; rows [1, 3] above it skipped as a row of names over "
            "merged cells") in notes, notes
    assert "t.xlsx: data row N is row N + 4 of the sheet above its first blank row" in notes
    assert ("t.xlsx: 1 blank row of the sheet (at row 6) is not a row: data rows are counted without it, as a CSV's "
            "blank lines are") in notes, notes


def test_what_a_workbook_cannot_give_is_said(tmp_path):
    path = _book(tmp_path / "t.xlsx", {"Data": [["a", "b"], [1, 2]], "Empty": [], "Header": [["a", "b"]]})
    with pytest.raises(DataError, match=r"t.xlsx: no sheet 'Dta'; its sheets: 'Data', 'Empty', 'Header'$"):
        read_table(path, sheet="Dta")
    # Excel's sheet names ignore case (it allows no two that differ only so): 'data' is the sheet 'Data'
    assert read_table(path, sheet="data").to_dict("list") == {"a": [1], "b": [2]}
    with pytest.raises(DataError, match=r"t.xlsx, sheet 'Empty': empty \(no header row\)$"):
        read_table(path, sheet="Empty")
    assert read_table(path, sheet="Header").columns.tolist() == ["a", "b"] and read_table(path, sheet="Header").empty
    with pytest.raises(DataError, match=r"a sheet \('Data'\) is named, but the file is not an Excel workbook"):
        pd.DataFrame({"a": [1]}).to_csv(tmp_path / "t.csv", index=False)
        read_table(tmp_path / "t.csv", sheet="Data")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataError, match=r"old.xls: a .xls workbook, which is not read: save it as .xlsx"):
        read_table(tmp_path / "old.xls")
    (tmp_path / "bad.xlsx").write_text("not a zip")
    with pytest.raises(DataError, match=r"bad.xlsx: cannot read it as an Excel workbook"):
        read_table(tmp_path / "bad.xlsx")
    formulas = _book(tmp_path / "f.xlsx", {"Data": [["a", "b"], [1, "=A2*2"], [2, "=A3*2"]]})
    with pytest.raises(DataError, match=r"f.xlsx, sheet 'Data': 2 formula cells without a stored value \(column "
                                        r"B rows \[2, 3\]\): the workbook was written by a program and never computed"):
        read_table(formulas)


def test_reading_notes_count_in_the_singular_and_the_plural(tmp_path):
    """The notes said "1 blank line(s) (first at line(s) [4]) are not rows", "1 formula cell(s)", "the workbook's
    other sheet(s), 'About', are not read": one of a thing reads in the singular, more in the plural."""
    from engage_models._core.io import read_csv

    def notes(reading):
        df = pd.DataFrame()
        df.attrs["reading"] = reading
        return reading_notes(df, "t.csv")

    one, two = ({"lines": n, "first": [4, 7][:n], "spaces": s} for n, s in ((1, 1), (2, 1)))
    assert notes({"blank_lines": one}) == [
        "t.csv: 1 blank line (at line 4) is not a row: data rows are counted without it, as engage ingest counts "
        "empty lines (data row N is line N + 1 of the file only above the first blank line); it holds spaces, which "
        "engage ingest counts as a row (and quarantines), so below it its row numbers are higher"]
    assert notes({"blank_lines": two})[0].startswith(
        "t.csv: 2 blank lines (first at lines [4, 7]) are not rows: data rows are counted without them")
    assert notes({"blank_lines": two})[0].endswith("; 1 of them holds spaces, which engage ingest counts as a row "
                                                   "(and quarantines), so below it its row numbers are higher")
    assert notes({"blank_rows": {"rows": 1, "first": [6]}, "missing_words": {"x": {"cells": 1, "words": ["NA"]}}}) == [
        "t.csv: 1 blank row of the sheet (at row 6) is not a row: data rows are counted without it, as a CSV's blank "
        "lines are", "'x': 1 cell read as missing ('NA')"]
    sheet = {"name": "Data", "header_row": 3, "why": "a title", "sheets": ["Data", "About"], "skipped": [1]}
    assert notes({"sheet": sheet})[:2] == [
        "t.csv: read the sheet 'Data'; the workbook's other sheet, 'About', is not read (--sheet NAME reads another)",
        "t.csv: the header is row 3 of the sheet; row 1 above it skipped as a title"]
    sheet.update(sheets=["Data", "About", "Notes"], skipped=[1, 2])
    assert notes({"sheet": sheet})[:2] == [
        "t.csv: read the sheet 'Data'; the workbook's other sheets, 'About', 'Notes', are not read (--sheet NAME "
        "reads another)", "t.csv: the header is row 3 of the sheet; rows [1, 2] above it skipped as a title"]
    formula = _book(tmp_path / "f.xlsx", {"Data": [["a", "b"], [1, "=A2*2"], [2, 4]]})
    with pytest.raises(DataError, match=r"'Data': 1 formula cell without a stored value \(column B row 2\): "):
        read_table(formula)
    (tmp_path / "u.csv").write_text("a,b\n1,2\n3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"u.csv: data row 2 does not have the header's 2 fields$"):
        read_csv(tmp_path / "u.csv")
    (tmp_path / "u.csv").write_text("a,b\n" + "1\n" * 7, encoding="utf-8")
    with pytest.raises(DataError, match=r"u.csv: data rows \[1, 2, 3, 4, 5\] and 2 more do not have the header's 2 "):
        read_csv(tmp_path / "u.csv")


@pytest.mark.parametrize("command, given", [
    ("survival", ["--duration", "tenure", "--event", "churned", "--covariates", "tier", "users", "--id", "customer",
                  "--n-boot", "0", "--cv", "3"]),
    ("fit", ["--label", "churned", "--date-col", "as_of", "--id-col", "customer", "--bootstrap", "0",
             "--score", "linear", "--test-windows", "2"])])
def test_fit_and_survival_read_a_named_sheet(tmp_path, command, given):
    own = _accounts(n=240)
    with pd.ExcelWriter(tmp_path / "t.xlsx") as xl:
        pd.DataFrame({"read me": ["the table is on the next sheet"]}).to_excel(xl, sheet_name="About", index=False)
        own.to_excel(xl, sheet_name="Accounts", index=False)
    run = [sys.executable, "-m", "engage_models", command, "--table", str(tmp_path / "t.xlsx"), *given]
    proc = subprocess.run([*run, "--sheet", "Accounts", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    evaluation = json.loads((tmp_path / "o" / "evaluation.json").read_text(encoding="utf-8"))
    assert evaluation["reading_notes"] == [f"{tmp_path / 't.xlsx'}: read the sheet 'Accounts'; the workbook's other "
                                           f"sheet, 'About', is not read (--sheet NAME reads another)"]
    proc = subprocess.run([*run, "--sheet", "Acounts", "--out", str(tmp_path / "p")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{tmp_path / 't.xlsx'}: no sheet 'Acounts'; its sheets: 'About', 'Accounts'" in proc.stderr


def test_a_header_with_a_blank_name_is_not_taken_for_names_over_merged_cells(tmp_path):
    """Only a row with cells merged across columns is skipped as group names: a header with one name left blank,
    above a row of text, stays the header (its blank column named as pandas names it in a CSV)."""
    path = _book(tmp_path / "t.xlsx", {"Data": [["id", "plan", None], ["A1", "pro", "x"], ["A2", "basic", "y"]]})
    df = read_table(path)
    assert df.columns.tolist() == ["id", "plan", "Unnamed: 2"] and df["id"].tolist() == ["A1", "A2"]


def test_a_hidden_first_sheet_is_not_the_table(tmp_path):
    """A hidden sheet of lookup lists in front of the table: the first visible sheet is read, the other named."""
    path = _book(tmp_path / "t.xlsx", {"lists": [["plan"], ["pro"]], "accounts": [["id", "plan"], ["A1", "pro"]]})
    wb = openpyxl.load_workbook(path)
    wb["lists"].sheet_state = "hidden"
    wb.active = 1
    wb.save(path)
    df = read_table(path)
    assert df.columns.tolist() == ["id", "plan"] and df.attrs["reading"]["sheet"]["name"] == "accounts"
    assert read_table(path, sheet="lists").columns.tolist() == ["plan"]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_name_written_twice_is_numbered_and_said_not_read_as_pandas_mangled_it(tmp_path, kind):
    """A header naming 'csat' twice read as csat and csat.1 (pandas' names, in a CSV and a workbook alike): the first
    was read under the name without a word. Both are kept numbered as engage ingest numbers them (csat, csat_2), said,
    and an option reading the name is refused, naming the file, the name and the columns."""
    rows = [["id", "csat", "memo", "csat", "memo", "memo_2"], ["A1", 5, "x", 4, "y", "z"], ["A2", 3, "u", 2, "v", "w"]]
    if kind == "csv":
        path = tmp_path / "t.csv"
        pd.DataFrame(rows[1:]).to_csv(path, header=rows[0], index=False)
        where = "columns 2 and 4"
    else:
        path = _book(tmp_path / "t.xlsx", {"Data": [[None, *r] for r in rows]})  # column A empty: B is the first
        where = "columns C and E of the sheet"
    df = read_table(path)
    assert df.columns.tolist() == ["id", "csat", "memo", "csat_2", "memo_3", "memo_2"]
    assert df["csat"].tolist() == [5, 3] and df["csat_2"].tolist() == [4, 2] and df["memo_3"].tolist() == ["y", "v"]
    notes = reading_notes(df, "t")
    assert f"t: the header names 'csat' in {where}: read as 'csat', 'csat_2' (an option naming 'csat' is refused: " \
           f"rename the others to read one)" in notes, notes
    assert read_table(path, uses={"--label": "id", "--keep-column": ["memo_2"]}).shape == (2, 6)
    with pytest.raises(DataError, match=rf"t\.{kind}: the header names 'csat' in {where}, and --label reads 'CSAT': "
                                        r"which one is meant cannot be told; rename the others$"):
        read_table(path, uses={"--label": "CSAT"})


def test_fit_and_survival_refuse_a_column_they_read_that_is_named_twice(tmp_path):
    own = _accounts(n=120).drop(columns="as_of")
    frame = own.assign(extra=own["users"])
    frame.columns = [*own.columns, "users"]  # 'users' twice
    frame.to_csv(tmp_path / "t.csv", index=False)
    run = [sys.executable, "-m", "engage_models", "survival", "--table", str(tmp_path / "t.csv"), "--duration",
           "tenure", "--event", "churned", "--n-boot", "0", "--cv", "3"]
    proc = subprocess.run([*run, "--covariates", "tier", "users", "--out", str(tmp_path / "o")], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert (f"{tmp_path / 't.csv'}: the header names 'users' in columns 3 and 7, and --covariates reads 'users': "
            f"which one is meant cannot be told; rename the others") in proc.stderr
    # the same name inside a comma list (``--covariates tier,users``): it was split after the check, and read
    proc = subprocess.run([*run, "--covariates", "tier,users", "--out", str(tmp_path / "q")], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "the header names 'users' in columns 3 and 7, and --covariates reads 'users'" in proc.stderr
    proc = subprocess.run([*run, "--covariates", "tier", "users_2", "--out", str(tmp_path / "p")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"note: {tmp_path / 't.csv'}: the header names 'users' in columns 3 and 7: read as 'users', " \
           f"'users_2'" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(tmp_path / "t.csv"),
                           "--label", "churned", "--id-col", "users", "--out", str(tmp_path / "f")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--id-col reads 'users'" in proc.stderr, proc.stderr


def test_an_identifier_in_a_text_file_is_read_as_written(tmp_path):
    """Ids 007 and 7 were read as the number 7: two accounts made one, and the ids written to per_account.csv
    without their zeros, matching no CRM record. The column an --id or --id-col option names is read as text;
    another column of numbers is still a number."""
    from engage_models._core.io import read_table

    path = tmp_path / "t.csv"
    path.write_text("customer,tenure,seats\n007,3,1\n7,5,2\n0042,8,3\n", encoding="utf-8")
    df = read_table(path, uses={"--id": "customer"})
    assert df["customer"].tolist() == ["007", "7", "0042"] and df["seats"].tolist() == [1, 2, 3]
    assert read_table(path)["customer"].tolist() == [7, 7, 42]  # no id named: pandas' reading, as before
    assert read_table(path, uses={"--id-col": ["customer"]})["customer"].tolist() == ["007", "7", "0042"]


def test_a_table_named_in_other_capitals_or_without_its_extension_is_pointed_to(tmp_path, capsys):
    """R's data sets come as ``Default.csv``; a user typing ``--table default.csv`` (one file on Windows and macOS)
    or ``--table Default`` read only "default.csv: no such file". The refusal now names the file the folder has."""
    from engage_models.cli import main

    _accounts(20).to_csv(tmp_path / "Default.csv", index=False)
    for given in ("default.csv", "Default", "Default.xlsx"):
        assert main(["fit", "--table", str(tmp_path / given), "--label", "churned", "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / given}: no such file; the folder has 'Default.csv'" in err, err
    assert main(["survival", "--table", str(tmp_path / "DEFAULT.CSV"), "--duration", "tenure", "--event", "churned",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no such file; the folder has 'Default.csv'" in capsys.readouterr().err
    assert main(["fit", "--table", str(tmp_path / "other.csv"), "--label", "churned",
                 "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.rstrip().endswith("other.csv: no such file")  # nothing near: said as before
