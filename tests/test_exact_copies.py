"""Exact copies: rows of a table without a key (events, touchpoints, plays without play_id) equal in every
column to an earlier row. Counted and warned about by default; set aside with their reason when the sources
file says ``exact_copies: quarantine``. Known answers from pandas' ``duplicated`` on the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_models._core.errors import ConfigError
from engage_models.ingest import contracts as C
from engage_models.ingest import ingest, load, quality
from engage_models.ingest import validate as V
from engage_models.ingest.sources import load_sources
from test_ingest import NOW, _checked, _tables, _write


def _batches(k: np.ndarray, h: np.ndarray, size: int) -> list[pa.RecordBatch]:
    table = pa.table({"k": pa.array(k, pa.uint64()), "h": pa.array(h, pa.uint64())})
    return table.to_batches(max_chunksize=size)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), max_size=60), st.integers(1, 8))
def test_copies_in_runs_equal_pandas_duplicated_whatever_the_batches(rows, size):
    # rows sorted by their run key k, as the processed file is; h stands for every column, k among them
    rows = sorted(rows, key=lambda r: r[0])
    frame = pd.DataFrame(rows, columns=["k", "v"])
    k = frame["k"].to_numpy(np.uint64)
    h = (frame["k"] * 10 + frame["v"]).to_numpy(np.uint64)  # equal h <=> equal (k, v)
    copies, example = V._copies_in_runs(_batches(k, h, size))
    assert copies == int(frame.duplicated().sum())
    assert (example is None) == (copies == 0)
    if example is not None:
        assert int((h == example).sum()) >= 2


def test_a_run_split_over_many_batches_is_counted_once():
    k = np.array([1] * 7 + [2] * 3, np.uint64)
    h = np.array([5, 6, 5, 5, 7, 6, 8, 9, 9, 10], np.uint64)  # run 1: two copies of 5, one of 6; run 2: one of 9
    for size in (1, 2, 3, 10):
        assert V._copies_in_runs(_batches(k, h, size))[0] == 4


def _event(account, ts, kind="login", user="U1", feature="", duration=60, **extra):
    return {"account_id": account, "user_id": user, "timestamp": ts, "event_type": kind, "feature": feature,
            "duration_s": duration, **extra}


def _world_with_copies():
    t = _tables()
    t["events"] = [
        _event("A1", "2025-01-05T10:00:00Z"),
        _event("A1", "2025-01-05T10:00:00Z"),                       # a copy
        _event("A1", "2025-01-05T19:00:00+09:00"),                  # the same moment written otherwise: a copy
        _event("A1", "2025-01-05T10:00:00Z", kind="export"),        # same time, another type: not a copy
        _event("A1", "2025-01-05T10:00:00Z", duration=61),          # another duration: not a copy
        _event("A2", "2025-01-06T09:00:00Z", user="U2"),
        _event("A2", "2025-01-06T09:00:00Z", user="U2", duration=-5),  # quarantined for its duration
        _event("A2", "2025-01-06T09:00:00Z", user="U2", duration=-5),  # the same bad row: quarantined, no copy
        _event("A2", "2025-01-06T09:00:00Z", user="U2"),           # a copy of the sixth row
    ]
    t["touchpoints"] += [dict(t["touchpoints"][0])]                 # a copied touch
    return t


def _ingest(tmp_path, tables, sources=None):
    raw = _write(tmp_path / "raw", tables)
    if sources is not None:
        (raw / "sources.yaml").write_text(yaml.safe_dump({"tables": sources}), encoding="utf-8")
    return _checked(ingest(raw, tmp_path / "processed", now=NOW)), tmp_path / "processed"


def test_exact_copies_are_kept_counted_and_said_by_default(tmp_path):
    report, processed = _ingest(tmp_path, _world_with_copies())
    ev = report.tables["events"]
    assert (ev.rows_read, ev.rows_kept, ev.rows_quarantined, ev.exact_copies) == (9, 7, 2, 3)
    kept = load("events", processed)
    assert int(kept.duplicated().sum()) == 3  # the known answer, from pandas on the kept rows
    assert report.tables["touchpoints"].exact_copies == 1
    assert report.tables["tickets"].exact_copies is None  # a keyed table: a repeat is a duplicate key
    said = [w for w in report.warnings if w.startswith("events:")]
    assert len(said) == 1 and "of the 7 rows kept, 3 are exact copies of an earlier row (43%)" in said[0]
    assert "account_id 'A1', timestamp 2025-01-05 10:00:00 (UTC)" in said[0]  # the first copy in the file's order
    assert "exact_copies: quarantine" in said[0]
    assert "&lt;NA&gt;" not in report._repr_html_() and "<NA>" not in report._repr_html_()
    frame = report.to_frame().set_index("table")
    assert frame.loc["events", "exact copies kept"] == 3 and pd.isna(frame.loc["tickets", "exact copies kept"])
    shown = quality.ingest_warnings(report, "en")["warning"].tolist()
    assert any("exact copies" in w for w in shown)


def test_a_world_without_copies_says_nothing(tmp_path):
    report, _ = _ingest(tmp_path, _tables())
    assert report.tables["events"].exact_copies == 0
    assert not any("exact copies" in w for w in report.warnings)


def test_quarantine_sets_the_later_copies_aside_with_their_reason(tmp_path):
    aside = {"exact_copies": "quarantine"}
    report, processed = _ingest(tmp_path, _world_with_copies(), {"events": aside, "touchpoints": aside})
    ev = report.tables["events"]
    assert (ev.rows_read, ev.rows_kept, ev.rows_quarantined, ev.exact_copies) == (9, 4, 5, 0)
    assert ev.by_reason == {C.NEGATIVE_DURATION: 2, C.EXACT_COPY: 3}
    q = load("events", processed, quarantine=True)
    copies = q[q["reason"] == C.EXACT_COPY]
    assert sorted(copies["source_row"]) == [2, 3, 9]  # the later of each, by row in the file
    assert not load("events", processed).duplicated().any()
    assert report.tables["touchpoints"].by_reason == {C.EXACT_COPY: 1}
    assert report.tables["touchpoints"].exact_copies == 0  # set aside: none kept
    assert not any("exact copies" in w for w in report.warnings)
    assert quality.translate_reason(C.EXACT_COPY, "ja") != C.EXACT_COPY


def test_copies_across_parts_of_a_folder_keep_the_first_file_s_row(tmp_path):
    t = _tables()
    raw = _write(tmp_path / "raw", {k: v for k, v in t.items() if k != "events"})
    (raw / "events").mkdir()
    pd.DataFrame(t["events"]).to_csv(raw / "events" / "part-1.csv", index=False)
    pd.DataFrame(t["events"][:2]).to_csv(raw / "events" / "part-2.csv", index=False)  # an overlapping export
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    assert report.tables["events"].exact_copies == 2
    (raw / "sources.yaml").write_text("tables: {events: {exact_copies: quarantine}}\n", encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    q = load("events", tmp_path / "processed", quarantine=True)
    assert report.tables["events"].rows_kept == 3
    assert {V.source_name(f) for f in q["source_file"]} == {"part-2.csv"}


def test_an_extra_column_that_differs_makes_a_row_no_copy(tmp_path):
    t = _tables()
    t["events"] = [_event("A1", "2025-01-05T10:00:00Z", session="s1"), _event("A1", "2025-01-05T10:00:00Z",
                                                                              session="s2")]
    report, _ = _ingest(tmp_path, t, {"events": {"exact_copies": "quarantine"}})
    assert (report.tables["events"].rows_kept, report.tables["events"].exact_copies) == (2, 0)


def test_plays_without_a_play_id_are_checked_with_or_without_the_column(tmp_path):
    t = _tables()
    play = {"account_id": "A1", "play": "check_in", "date": "2025-01-07", "owner": "csm1", "status": "done"}
    t["plays"] = [play, dict(play), {**play, "date": "2025-01-08"}]
    report, _ = _ingest(tmp_path, t)
    assert report.tables["plays"].exact_copies == 1
    # the column there, empty in the copied rows (a helper found these unchecked, the option ignored)
    t["plays"] = [{**play, "play_id": ""}, {**play, "play_id": ""}, {**play, "play_id": "P1"},
                  {**play, "play_id": "P2"}]
    report, _ = _ingest(tmp_path, t)
    assert report.tables["plays"].exact_copies == 1  # P1 and P2 differ in their id: no copy
    report, processed = _ingest(tmp_path, t, {"plays": {"exact_copies": "quarantine"}})
    assert report.tables["plays"].by_reason == {C.EXACT_COPY: 1} and report.tables["plays"].rows_kept == 3
    # a copy with its play_id too: both reasons
    t["plays"] = [{**play, "play_id": "P1"}, {**play, "play_id": "P1"}]
    report, _ = _ingest(tmp_path, t, {"plays": {"exact_copies": "quarantine"}})
    assert report.tables["plays"].by_reason == {C.duplicate(("play_id",)): 1, C.EXACT_COPY: 1}
    assert report.tables["plays"].rows_quarantined == 1


@pytest.mark.parametrize("entry, says", [
    ({"tickets": {"exact_copies": "quarantine"}}, "tickets has one (ticket_id)"),
    ({"events": {"exact_copies": "drop"}}, "exact_copies is keep or quarantine (found 'drop')"),
])
def test_exact_copies_where_it_cannot_apply_is_refused(tmp_path, entry, says):
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"tables": entry}), encoding="utf-8")
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_sources(path)


def test_a_report_written_before_the_check_reads_as_not_checked(tmp_path):
    report, processed = _ingest(tmp_path, _tables())
    data = (processed / "ingest_report.json").read_text(encoding="utf-8").replace('"exact_copies": 0', '"x": 0')
    (processed / "ingest_report.json").write_text(data, encoding="utf-8")
    old = V.IngestReport.from_json(processed / "ingest_report.json")
    assert old.tables["events"].exact_copies is None


def test_engage_ingest_prints_the_count_and_a_blank_for_tables_with_a_key(tmp_path, capsys):
    from engage_models.cli import main

    raw = _write(tmp_path / "raw", _world_with_copies())
    assert main(["ingest", "--raw", str(raw), "--out", str(tmp_path / "p"), "--now", NOW]) == 0
    out = capsys.readouterr().out.split("\n\n")[0]  # the tables' summary, before the reasons
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "<NA>" not in "".join(lines.values()) and "nan" not in "".join(lines.values())
    # table, read, kept, quarantined, % quarantined, (values set aside: blank for events, 0 for tickets), copies
    assert lines["events"].split()[5] == "3"
    assert lines["tickets"].split()[5:7] == ["0", "tickets.csv"]  # no count of copies: a blank
