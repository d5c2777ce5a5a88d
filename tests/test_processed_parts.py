"""A processed table stored as a folder of Parquet parts (as a Spark job landing the data writes it) is read by
every reader of the events as the same table in one file."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engage_models._core.errors import DataError
from engage_models._core.io import parquet_files, parquet_rows, parquet_source


@pytest.fixture(scope="module")
def one_and_parts(small_ingested, tmp_path_factory):
    """The small world's processed folder as it is, and a copy whose events are three parts of shuffled rows,
    with what a lake writer leaves beside them."""
    root, _ = small_ingested
    one = root / "processed"
    parts = tmp_path_factory.mktemp("parts") / "processed"
    shutil.copytree(one, parts)
    (parts / "events.parquet").unlink()
    folder = parts / "events.parquet"
    folder.mkdir()
    events = pq.read_table(one / "events.parquet")
    order = np.random.default_rng(11).permutation(events.num_rows)
    for k, chunk in enumerate(np.array_split(order, 3)):
        pq.write_table(events.take(chunk), folder / f"part-{k:05d}-3f1c.snappy.parquet", row_group_size=20_000)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000-3f1c.snappy.parquet.crc").write_bytes(b"\0\1")
    (folder / "_common_metadata.parquet").write_bytes(b"not a part")
    return one, parts


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def test_the_helpers_see_the_parts_only(one_and_parts):
    one, parts = one_and_parts
    files = parquet_files(parts / "events.parquet")
    assert [f.name for f in files] == [f"part-{k:05d}-3f1c.snappy.parquet" for k in range(3)]
    assert parquet_rows(parts / "events.parquet") == parquet_rows(one / "events.parquet") > 0
    assert parquet_source(one / "events.parquet") == str(one / "events.parquet")
    assert parquet_files(one / "nothing.parquet") == []


def test_quality_reads_the_parts_as_one_table(one_and_parts):
    from engage_models.ingest import quality as Q

    one, parts = one_and_parts
    assert Q.data_dates(one) == Q.data_dates(parts)
    assert Q.last_event_date(one) == Q.last_event_date(parts)
    pd.testing.assert_frame_equal(Q.events_per_day(one), Q.events_per_day(parts))
    pd.testing.assert_frame_equal(Q.date_coverage(one), Q.date_coverage(parts))
    pd.testing.assert_frame_equal(Q.monthly_counts(one, "events", "timestamp", by="event_type"),
                                  Q.monthly_counts(parts, "events", "timestamp", by="event_type"))


def test_journeys_and_survival_read_the_parts_as_one_table(one_and_parts):
    from engage_models.journeys import channels as CH
    from engage_models.journeys import milestones as MS
    from engage_models.journeys import users as U
    from engage_models.survival.data import observation_start

    one, parts = one_and_parts
    as_of = pd.Timestamp("2024-10-01", tz="UTC")
    pd.testing.assert_frame_equal(_sorted(U.user_metrics(one, as_of)), _sorted(U.user_metrics(parts, as_of)))
    assert MS.key_features(one) == MS.key_features(parts) != []
    ms = MS.expand(MS.registry(), MS.key_features(one))
    a, b = MS.milestone_times(one, ms, as_of)[0], MS.milestone_times(parts, ms, as_of)[0]
    assert len(a) > 0
    pd.testing.assert_frame_equal(_sorted(a), _sorted(b))
    since = as_of - pd.Timedelta(days=90)
    pd.testing.assert_frame_equal(CH.device_mix(one, since, as_of), CH.device_mix(parts, since, as_of))
    pd.testing.assert_frame_equal(_sorted(CH.events_by_device(one, since, as_of)),
                                  _sorted(CH.events_by_device(parts, since, as_of)))
    for column in ("device", "feature", "no_such_column"):
        assert CH._recorded(one / "events.parquet", column) == CH._recorded(parts / "events.parquet", column)
    assert observation_start(one) == observation_start(parts)


def test_the_panel_reads_the_parts_as_one_table(one_and_parts):
    from engage_models.features.panel import build_panel

    one, parts = one_and_parts
    a = build_panel(one, partition_events=50_000)
    b = build_panel(parts, partition_events=50_000)  # account ranges over parts that each hold every account
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_a_folder_whose_name_looks_like_a_pattern_is_read_as_it_is(tmp_path):
    folder = tmp_path / "we[ird]*" / "events.parquet"
    folder.mkdir(parents=True)
    pd.DataFrame({"a": [1, 2]}).to_parquet(folder / "part-0.parquet")
    pd.DataFrame({"a": [3]}).to_parquet(folder / "part-1.parquet")
    (folder / ".part-2.parquet").write_text("a writer's temporary file")
    with duckdb.connect() as con:
        assert con.execute("SELECT sum(a) FROM read_parquet($p)", {"p": parquet_source(folder)}).fetchall() == [(6,)]
    for f in parquet_files(folder):
        f.unlink()
    with pytest.raises(DataError, match="without Parquet parts"):
        parquet_source(folder)
