"""What the run's dates say on report 01 (``engage_models.ingest.quality.date_notes``), in both languages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from engage_models.ingest.quality import data_dates, date_notes

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_data_quality.ipynb"


def _events(processed: Path, times) -> Path:
    processed.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"account_id": "A1", "timestamp": pd.to_datetime(list(times), utc=True).astype("datetime64[us, UTC]"),
                  "event_type": "login"}).to_parquet(processed / "events.parquet", index=False)
    return processed


def test_report_01_says_a_month_s_first_day_the_data_only_begin_in_both_languages(tmp_path):
    """A month's first day the data only begin (an export run on 1 February at 02:40) was said in ``dates.json`` and
    on the console only: report 01 said nothing of the day left after the observation date. It says it now, with
    how to take the day in, in English and Japanese; nothing when there is nothing to say."""
    january = [f"2025-01-{d:02d} {h:02d}:{m:02d}:00" for d in range(1, 32) for h in range(24) for m in (10, 40)]
    morning = [f"2025-02-01 0{h}:{m:02d}:00" for h in range(3) for m in (10, 40)]
    processed = _events(tmp_path / "processed", [*january, *morning])
    dates = data_dates(processed)
    assert dates["partial_day"]["day"] == "2025-02-01"
    assert date_notes(dates, "en") == [
        "The events end at 02:40 on 1 Feb 2025, a month's first day with 6 events where a usual day has 48, 88% of "
        "them later in the day than that: an export run in that day's first hours. So the observation date is 1 Feb "
        "2025 and that day's events come after it, in no metric; give `--as-of 2025-02-02` to take them in."]
    assert date_notes(dates, "ja") == [
        "イベントは2025年2月1日の02:40で終わっています。この日は月の初日で、イベントは6件です（通常の日は48件で、そのうち"
        "88%はこの時刻より遅い時間帯）。その日の早い時間に実行されたエクスポートのため、観測日を2025年2月1日とし、"
        "この日のイベントは観測日より後として、どの指標にも含めていません。含めるには `--as-of 2025-02-02` を"
        "指定してください。"]
    # the date given, a whole last day, a dates.json of before: nothing to say
    assert date_notes(data_dates(processed, "2025-02-02"), "en") == []
    whole = _events(tmp_path / "whole", [*january, *(f"2025-02-01 {h:02d}:30:00" for h in (0, 9, 23))])
    assert date_notes(data_dates(whole), "ja") == []
    assert date_notes({"as_of": "2025-02-01T00:00:00+00:00"}, "en") == []
    # report 01 shows them
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]]
    assert any("quality.date_notes(run[\"ingest\"].json(\"dates\"), lang)" in c for c in cells)
