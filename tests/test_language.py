"""Reports in English and Japanese: Japanese glyphs in figures, catalogue coverage, `make report LANG=ja`."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from fontTools.ttLib import TTFont  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from engage_models._core import i18n, plots
from engage_models._core.display import table  # noqa: E402
from engage_models.ingest import contracts as C  # noqa: E402
from engage_models.ingest import quality  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("解約率", "推奨者", "ヘルススコア", "批判者（NPS 0〜6点）", "2025年1月", "アクティブユーザー率（28日）")


def _draw(lang: str, family: list[str] | None = None):
    """A figure whose title, axis labels, text and legend are Japanese; returns (figure, texts, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.setup(lang)
        if family:
            plt.rcParams["font.family"] = plt.rcParams["font.sans-serif"] = family
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label=LABELS[3])
        ax.set_title(LABELS[0])
        ax.set_xlabel(LABELS[1])
        ax.set_ylabel(LABELS[2])
        ax.text(0.5, 0.5, LABELS[4])
        ax.set_xticks([0, 1], [LABELS[5], "MRR"])
        legend = ax.legend()
        fig.savefig(io.BytesIO(), format="png")  # rendering is where a missing glyph is reported
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts, *legend.get_texts(), ax.get_xticklabels()[0]]
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    return fig, texts, missing


def _uncovered(text) -> tuple[str, list[str]]:
    """The font file matplotlib picks for ``text`` and the characters of the text that file has no glyph for."""
    path = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
    cmap = TTFont(path, fontNumber=0, lazy=True).getBestCmap()
    return path, [ch for ch in text.get_text() if ord(ch) not in cmap and not ch.isspace()]


def test_japanese_labels_come_from_a_bundled_font_that_has_every_glyph():
    import matplotlib_fontja

    with matplotlib.rc_context():
        fig, texts, missing = _draw("ja")
        assert not missing, missing
        bundled = Path(matplotlib_fontja.__file__).resolve().parent
        for text in texts:
            path, uncovered = _uncovered(text)
            assert not uncovered, f"{text.get_text()!r}: {uncovered} not in {path}"
            assert Path(path).resolve().is_relative_to(bundled), path  # shipped in a PyPI package, not the system
        plt.close(fig)


def test_the_check_fails_without_the_japanese_font():
    """Control: with Latin fonts only, the same figure warns and the font's cmap lacks the glyphs."""
    with matplotlib.rc_context():
        fig, texts, missing = _draw("ja", family=["DejaVu Sans"])
        assert missing and "missing from font" in missing[0]
        assert _uncovered(texts[0])[1] == list(LABELS[0])
        plt.close(fig)


def test_english_reports_still_draw_japanese_names():
    with matplotlib.rc_context():
        fig, _, missing = _draw("en")  # DejaVu first, IPAexGothic as the per-glyph fallback
        assert not missing, missing
        assert plt.rcParams["font.family"] == ["DejaVu Sans", plots.JAPANESE_FONT]
        plt.close(fig)


def test_every_quarantine_reason_and_event_type_has_japanese_words():
    fixed = [C.UNKNOWN_ACCOUNT, C.ACCOUNT_QUARANTINED, C.NEGATIVE_DURATION, C.NEGATIVE_MRR, C.NPS_OUT_OF_RANGE,
             C.NPS_NOT_WHOLE, C.CSAT_OUT_OF_SCALE, C.UNKNOWN_SURVEY_TYPE, C.CLOSED_BEFORE_OPENED, C.END_BEFORE_START,
             C.PLAY_DONE_IN_FUTURE, C.PLAY_DONE_AFTER_RUN_DATE]
    named = [C.unparseable("opened_at"), C.missing("mrr"), C.duplicate(("ticket_id",)), C.in_future("timestamp"),
             C.after_run_date("timestamp")]
    for reason in fixed + named:
        ja = quality.translate_reason(reason, "ja")
        assert ja != reason and not any(w in ja for w in ("unknown", "negative", "outside", "before", "duplicate",
                                                          "future", "after")), ja
    assert quality.translate_reason("; ".join(named[:2]), "ja") == "opened_at が読み取れない、mrr が空欄"
    assert quality.translate_reason(C.NEGATIVE_MRR, "en") == C.NEGATIVE_MRR
    for table_name in C.CONTRACTS:
        assert i18n.t(f"table.{table_name}", "ja") != f"table.{table_name}"
    for event in C.EVENT_TYPES:
        assert i18n.t(f"event.{event}", "ja") != f"event.{event}"


def test_tables_write_dates_and_times_as_each_language_does():
    df = pd.DataFrame({"as_of": pd.to_datetime(["2025-01-31", "2025-02-28"], utc=True),
                       "submitted_at": pd.to_datetime(["2025-01-31 09:05", "2025-02-01 00:00"], utc=True)})
    en, ja = table(df, lang="en").frame, table(df, lang="ja")._repr_html_()
    html_en = table(df, lang="en")._repr_html_()
    assert en is df
    assert "<td>2025-01-31</td>" in html_en and "<td>2025-01-31 09:05</td>" in html_en
    assert "<td>2025/01/31</td>" in ja and "<td>2025/02/01 00:00</td>" in ja and "観測日" in ja
    assert i18n.fmt_datetime("2026-11-27T16:04:31+00:00", "ja") == "2026年11月27日 16:04"
    assert i18n.fmt_datetime("2026-11-27T16:04:31+00:00", "en") == "27 Nov 2026 16:04"


def test_an_empty_table_is_a_sentence_in_the_report_language():
    """Report 03 on a 10-account world showed a header row over nothing (no account with split respondents)."""
    empty = pd.DataFrame({"account_id": pd.Series([], dtype=str), "nps": pd.Series([], dtype=float)})
    assert table(empty)._repr_html_() == '<p class="engage-empty"><em>Nothing to list here for this data.</em></p>'
    assert "該当する項目がありません" in table(empty, lang="ja")._repr_html_()
    assert "<table" not in table(empty, lang="ja")._repr_html_() and table(empty).frame is empty
    assert "<table" in table(pd.DataFrame({"nps": [1.0]}))._repr_html_()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
@pytest.mark.parametrize("cmdline, env_lang, expected", [
    (["LANG=ja"], "en_US.UTF-8", "--lang ja"),
    ([], "en_US.UTF-8", "--lang en"),          # the shell's locale is not a report language
    ([], "ja_JP.UTF-8", "--lang en"),
    (["REPORT_LANG=ja"], "C.UTF-8", "--lang ja"),
    (["LANG=ja", "RUN_DATE=2026-01-31"], "C.UTF-8", "--lang ja --run-date 2026-01-31"),
])
def test_make_report_lang_ja_passes_the_language_to_the_runner(cmdline, env_lang, expected):
    env = {**os.environ, "LANG": env_lang}
    env.pop("REPORT_LANG", None)
    proc = subprocess.run(["make", "-n", "--no-print-directory", "report", *cmdline], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    run_line = [line for line in proc.stdout.splitlines() if "engage_models run" in line]
    assert len(run_line) == 1 and expected in run_line[0], proc.stdout


@pytest.mark.notebook
def test_data_quality_report_in_japanese(report_data, tmp_path):
    """Reasons, table names, dates and the page's own header in Japanese; raw rows stay as they were read."""
    from conftest import REPORT_RUN_DATE
    from engage_models.reports.runner import run

    (path,) = run(data_dir=report_data, out_dir=tmp_path / "reports", only=["01"], lang="ja",
                  run_date=REPORT_RUN_DATE, progress=lambda m: None)
    html = path.read_text(encoding="utf-8")
    assert "<title>データ品質：読み込んだ行、採用した行、隔離した行</title>" in html
    assert "2025年1月2日の実行" in html and "観測日 <strong>2025年1月1日</strong>" in html
    for ja in ("利用イベント（events）", "duration_s が負の値", "NPSスコアが0〜10の範囲外",
               "submitted_at が読み取れない", "元の行番号"):
        assert ja in html, ja
    for en in ("negative duration_s", "nps score outside 0-10", "Rows read, kept and quarantined", "source_row"):
        assert en not in html, en
