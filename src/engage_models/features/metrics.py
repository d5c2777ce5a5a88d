"""The metric registry: every engagement metric of the account x period panel, declared once.

A :class:`Metric` names its family, the source it is computed from, its window(s), the SQL that computes
it, its labels and descriptions in English and Japanese, whether higher is better, and how a model should
treat it. The panel builder (:mod:`engage_models.features.panel`) compiles these declarations into SQL; reports
(table headers, figure labels), models (which columns, which transforms) and the documentation read the
registry. Nothing else defines a metric.

Sources and stages
------------------
``events`` is the only large table. It is rolled up (:data:`ROLLUPS`) per user, per account and per
feature over *buckets* of days between window boundaries; windowed metrics aggregate the buckets of each
window. ``tickets``, ``touchpoints`` and ``surveys`` are small and aggregated directly.

Kinds of metric
---------------
``window``
    An aggregate over the source rows whose day lies in a trailing window ``[as_of - w, as_of)``. ``sql``
    is the aggregate expression over the source's columns (it may use ``as_of``); ``count(DISTINCT x)`` is
    computed as a count of groups (two-level aggregation), which engines run much faster than a distinct
    aggregate. One column per window: ``<name>_<w>d``.
``point``
    A value at ``as_of`` computed by a dedicated query (latest NPS, MRR, seats, tenure, ...). ``sql``
    names the output column of that query (see :data:`POINT_QUERIES`).
``derived``
    An expression over other panel columns, evaluated last; ``{w}`` stands for the window suffix
    (``active_users{w} / nullif(seats, 0)``).

The SQL is written in the portable subset that DuckDB runs and that sqlglot transpiles to Spark SQL (the
Spark engine runs these very strings; ``tests/test_spark.py`` checks that both engines give the same panel).
Portable means the same *result* on both, not only SQL that parses: time differences are taken in
microseconds (``date_diff('second', ...)`` counts second boundaries crossed in DuckDB but whole elapsed
seconds in Spark), and every division guards its denominator with ``nullif`` (DuckDB divides by zero to
infinity, ANSI Spark raises). Every value that varies (dates, horizon) reaches the SQL as a bound parameter
or a joined table, never as text.

Examples
--------
>>> from engage_models.features.metrics import get, columns
>>> m = get("active_user_ratio_28d")
>>> m.family, m.higher_is_better, m.label("ja")
('reach', True, 'アクティブユーザー率（28日）')
>>> "dau_mau" in columns(family="reach")
True
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace

from .._core.i18n import register_labels

FAMILIES = (
    "frequency", "depth", "breadth", "reach", "content", "support",
    "communication", "sentiment", "commercial", "change",
)  # fmt: skip
FAMILY_LABELS = {
    "frequency": ("frequency", "利用頻度"), "depth": ("depth", "利用の深さ"), "breadth": ("breadth", "機能の幅"),
    "reach": ("reach", "利用者の広がり"), "content": ("content", "コンテンツ"), "support": ("support", "サポート"),
    "communication": ("communication", "コミュニケーション"), "sentiment": ("sentiment", "顧客の声"),
    "commercial": ("commercial", "契約"), "change": ("change", "変化"),
}  # fmt: skip

#: Default trailing windows in days, and the offset window that ``change`` metrics compare against.
DEFAULT_WINDOWS = (28, 90)


@dataclass(frozen=True)
class Window:
    """Days ``[as_of - start, as_of - end)``: ``Window('28d', 28, 0)``, the previous 28 days ``('prev28d', 56, 28)``."""

    name: str
    start: int
    end: int = 0

    @property
    def suffix(self) -> str:
        return f"_{self.name}"


#: The window DAU/MAU and the % changes are on (and the one before it): 28 days when the panel has it.
CHANGE_DAYS = 28


def windows_for(days: tuple[int, ...] = DEFAULT_WINDOWS) -> tuple[Window, ...]:
    """The trailing windows plus the window before the change window (for percent changes): before 28 days
    when the windows hold it, else before the shortest."""
    days = tuple(sorted(set(days)))
    short = CHANGE_DAYS if CHANGE_DAYS in days else days[0]
    return tuple(Window(f"{d}d", d) for d in days) + (Window(f"prev{short}d", 2 * short, short),)


@dataclass(frozen=True)
class Rollup:
    """A pre-aggregation per ``keys`` and *bucket* of days, of the events table or of another rollup.

    Buckets are the stretches of days between consecutive window boundaries (``as_of - start`` and
    ``as_of - end`` of every window and date; never longer than :data:`MAX_BUCKET_DAYS`), so every window is
    a whole number of buckets and each event lands in exactly one bucket: the large table is never multiplied
    by the number of windows covering a day. Over ``events``, ``measures`` see each event with its ``day``
    (integer UTC day) and bucket start ``b``; over another rollup (``source`` a rollup name) they see its rows.

    Distinct days are kept as a bit mask per bucket (bit ``day - b``), so distinct user-days and an account's
    active days are one ``bit_or`` away, without a per-user-and-day grouping of the events.
    """

    name: str
    source: str
    keys: tuple[str, ...]
    measures: dict[str, str]
    where: str = "TRUE"
    time: str = "timestamp"


#: Buckets longer than this are split (a day mask must fit in a 64-bit integer).
MAX_BUCKET_DAYS = 60
_DAY_BIT = "CAST(1 AS BIGINT) << (day - b)"
ROLLUPS: dict[str, Rollup] = {
    "user_bucket": Rollup("user_bucket", "events", ("account_id", "user_id"), {
        "events": "count(*)",
        "logins": "count_if(event_type = 'login')",
        "feature_uses": "count_if(event_type = 'feature_use')",
        "exports": "count_if(event_type = 'export')",
        "content_views": "count_if(event_type = 'content_view')",
        # an exact (decimal) sum: a sum of doubles depends on the order DuckDB's threads add them in, and the
        # last-digit differences moved a shape card's bin edges from one run to the next on the same data
        "usage_s": "sum(CAST(coalesce(duration_s, 0) AS DECIMAL(38, 6)))",
        "day_mask": f"bit_or({_DAY_BIT})",
        # distinct days of known users (the numerator of DAU/MAU); an unknown user is not a user
        "user_days": f"CASE WHEN user_id IS NULL THEN 0 ELSE bit_count(bit_or({_DAY_BIT})) END",
        "last_day": "max(day)",
    }),
    "account_bucket": Rollup("account_bucket", "user_bucket", ("account_id",), {
        "active_days": "bit_count(bit_or(day_mask))",
        "last_day": "max(last_day)",
    }),
    "feature_bucket": Rollup("feature_bucket", "events", ("account_id", "feature"), {"uses": "count(*)"},
                             where="feature IS NOT NULL"),
}  # fmt: skip

#: Timestamp column of the raw (small) sources of window metrics; their rows are mapped to days directly.
WINDOW_SOURCES: dict[str, str] = {"tickets": "opened_at", "touchpoints": "timestamp"}


@dataclass(frozen=True)
class Metric:
    """One metric (for ``window`` metrics: one per window; :func:`expand` names the columns)."""

    name: str
    family: str
    source: str
    kind: str  # window | point | derived
    sql: str
    label_en: str
    label_ja: str
    description_en: str
    description_ja: str
    higher_is_better: bool | None
    unit: str = ""
    fill_zero: bool = True  # no source row means 0 (true for counts); False: missing stays missing
    skewed: bool = False  # fat-tailed and non-negative: log-transform before scaling
    model: bool = True  # offered to the churn models by default
    windows: tuple[str, ...] = ()  # filled by expand() for window/derived-per-window metrics
    per_window: bool = False  # derived metric with one column per window (uses {w})
    window: str | None = None  # the window of an expanded column

    def label(self, lang: str = "en") -> str:
        return self.label_ja if lang == "ja" else self.label_en

    def description(self, lang: str = "en") -> str:
        return self.description_ja if lang == "ja" else self.description_en


def _w(name, family, source, sql, en, ja, den, dja, hib, **kw):
    return Metric(name, family, source, "window", sql, en, ja, den, dja, hib, **kw)


def _p(name, family, source, sql, en, ja, den, dja, hib, **kw):
    return Metric(name, family, source, "point", sql, en, ja, den, dja, hib, **kw)


def _d(name, family, sql, en, ja, den, dja, hib, **kw):
    return Metric(name, family, "panel", "derived", sql, en, ja, den, dja, hib, **kw)


# ------------------------------------------------------------------------------------------ the registry
# Labels of windowed metrics carry "{w}" for the window ("28 days" / "28日").
REGISTRY: tuple[Metric, ...] = (
    # frequency
    _w("logins", "frequency", "user_bucket", "sum(logins)", "logins ({w})", "ログイン回数（{w}）",
       "Logins by any user of the account in the window.", "期間内の顧客の全ユーザーのログイン回数。",
       True, unit="count", skewed=True),
    _w("active_days", "frequency", "account_bucket", "sum(active_days)", "active days ({w})", "利用日数（{w}）",
       "Days on which at least one user of the account did anything.", "いずれかのユーザーが利用した日数。",
       True, unit="days"),
    _w("user_days", "frequency", "user_bucket", "sum(user_days)", "user-days ({w})", "延べ利用ユーザー日数（{w}）",
       "Sum over days of the users active that day (the numerator of DAU/MAU).",
       "日ごとのアクティブユーザー数の合計（DAU/MAUの分子）。", True, unit="count", skewed=True, model=False),
    # depth
    _w("usage_hours", "depth", "user_bucket", "CAST(sum(usage_s) AS DOUBLE) / 3600.0", "usage hours ({w})",
       "利用時間（{w}・時間）",
       "Time in product: sum of event durations, in hours.", "製品の利用時間（イベント時間の合計、時間）。",
       True, unit="hours", skewed=True),
    _w("exports", "depth", "user_bucket", "sum(exports)", "outputs ({w})", "アウトプット数（{w}）",
       "Outputs made in the product (exports).", "製品で作成したアウトプット（エクスポート）の数。",
       True, unit="count", skewed=True),
    # breadth
    _w("features_used", "breadth", "feature_bucket", "count(DISTINCT feature)", "features used ({w})",
       "利用機能数（{w}）", "Distinct features used by anyone in the account.", "顧客のユーザーが使った機能の種類数。",
       True, unit="features"),
    # reach
    _w("active_users", "reach", "user_bucket", "count(DISTINCT user_id)", "active users ({w})",
       "アクティブユーザー数（{w}）", "Distinct users with any activity in the window.",
       "期間内に何らかの利用があったユーザーの数。", True, unit="users", skewed=True),
    # content
    _w("content_views", "content", "user_bucket", "sum(content_views)", "content views ({w})",
       "配信コンテンツ閲覧数（{w}）", "Views of content the company sent (guides, announcements).",
       "自社が発信した情報（ガイド・お知らせ）の閲覧数。", True, unit="count", skewed=True),
    # support
    _w("tickets", "support", "tickets", "count(*)", "tickets opened ({w})", "問い合わせ件数（{w}）",
       "Support tickets opened in the window.", "期間内に起票されたサポート問い合わせの件数。",
       False, unit="count", skewed=True),
    _w("urgent_tickets", "support", "tickets",
       "sum(CASE WHEN priority IN ('high', 'urgent') THEN 1 ELSE 0 END)", "high-priority tickets ({w})",
       "優先度の高い問い合わせ（{w}）", "Tickets of priority high or urgent.", "優先度が高・緊急の問い合わせ件数。",
       False, unit="count", skewed=True, model=False),
    _w("median_hours_to_close", "support", "tickets",
       "median(CASE WHEN closed_at < as_of THEN greatest(date_diff('microsecond', opened_at, closed_at), 0) "
       "/ 3600000000.0 END)",
       "median hours to close ({w})", "解決までの時間の中央値（{w}・時間）",
       "Median time to close of the window's tickets closed before the observation date; empty without any.",
       "期間内に起票され観測日までに解決した問い合わせの解決時間の中央値（該当なしは空欄）。",
       False, unit="hours", fill_zero=False, skewed=True, model=False),
    # communication
    _w("newsletter_opens", "communication", "touchpoints",
       "sum(CASE WHEN channel = 'newsletter' AND opened THEN 1 ELSE 0 END)", "newsletter opens ({w})",
       "メールマガジン開封数（{w}）", "Newsletters opened by the account's users.",
       "ユーザーによるメールマガジンの開封数。", True, unit="count", skewed=True),
    _w("community_posts", "communication", "touchpoints",
       "sum(CASE WHEN channel = 'community' THEN 1 ELSE 0 END)", "community posts ({w})",
       "コミュニティ投稿数（{w}）", "Posts in the user community.", "ユーザーコミュニティへの投稿数。",
       True, unit="count", skewed=True),
    _w("events_attended", "communication", "touchpoints",
       "sum(CASE WHEN channel IN ('event', 'webinar') AND attended THEN 1 ELSE 0 END)", "events attended ({w})",
       "イベント参加数（{w}）", "Events and webinars the account attended.", "イベント・ウェビナーへの参加数。",
       True, unit="count", skewed=True),
    _w("meetings", "communication", "touchpoints",
       "sum(CASE WHEN channel = 'meeting' AND coalesce(attended, TRUE) THEN 1 ELSE 0 END)", "meetings ({w})",
       "打ち合わせ数（{w}）", "Meetings held with the account (customer success, reviews).",
       "顧客との打ち合わせ（カスタマーサクセス定例など）の回数。", True, unit="count", skewed=True),
    # point-in-time
    _p("seats", "reach", "subscriptions", "seats", "seats", "契約席数",
       "Seats held at the observation date (latest subscription month, else users holding a seat).",
       "観測日時点の契約席数（直近の契約月、なければ有効なユーザー数）。", None, unit="seats", fill_zero=False,
       skewed=True, model=False),
    _p("open_tickets", "support", "tickets", "open_tickets", "open tickets", "未解決の問い合わせ",
       "Tickets opened before the observation date and not closed by then.", "観測日時点で未解決の問い合わせ件数。",
       False, unit="count", skewed=True),
    # a mean 0-10 answer, not an NPS (-100 to 100): labelled "score", readers took it for the account's NPS
    _p("nps_latest", "sentiment", "surveys", "nps_latest", "latest NPS rating (0-10)", "直近のNPS評点（0〜10）",
       "Mean 0-10 answer of the account's latest NPS wave (answers within 30 days of its latest answer); a rating, "
       "not an NPS (-100 to 100).",
       "直近のNPS調査回（最新回答から30日以内の回答）の平均評点（0〜10）。NPS（-100〜100）ではありません。", True,
       unit="score", fill_zero=False),
    _p("nps_change", "sentiment", "surveys", "nps_change", "NPS rating change", "NPS評点の変化",
       "Latest wave's mean NPS answer (0-10) minus the previous wave's; not a change in NPS.",
       "直近回と前回のNPS平均評点（0〜10）の差。NPSの変化ではありません。", True,
       unit="score", fill_zero=False, model=False),
    # CSAT as survey answers and as the tickets' own scores (the point query "csat"): a company that keeps CSAT on
    # its tickets only had no CSAT metric, so none in its health score
    _p("csat_latest", "sentiment", "surveys", "csat_latest", "latest CSAT", "直近の顧客満足度（CSAT）",
       "Mean CSAT score (survey answers of any trigger, and the tickets' own CSAT where no answer names the "
       "ticket) within 30 days of the account's latest one.",
       "直近のCSATから30日以内のCSAT（全タイミングのアンケート回答と、回答のない問い合わせ自体のCSAT）の平均。",
       True, unit="score", fill_zero=False),
    _p("csat_change", "sentiment", "surveys", "csat_change", "CSAT change", "顧客満足度の変化",
       "Latest CSAT mean minus the previous one.", "直近と前回のCSAT平均の差。", True, unit="score",
       fill_zero=False, model=False),
    _p("tenure_days", "commercial", "accounts", "tenure_days", "tenure (days)", "契約からの日数",
       "Days since the account's start date.", "契約開始日からの日数。", True, unit="days", skewed=True),
    _p("mrr", "commercial", "subscriptions", "mrr", "MRR", "MRR（月次経常収益）",
       "Monthly recurring revenue at the observation date (latest subscription month before it).",
       "観測日時点の月次経常収益（直前の契約月）。", True, unit="currency", fill_zero=False, skewed=True, model=False),
    _p("mrr_change_90d", "commercial", "subscriptions", "mrr_change_90d", "MRR change (90 days)",
       "MRR変化（90日）", "MRR now minus MRR 90 days earlier (0 for accounts younger than that).",
       "現在のMRRと90日前のMRRの差（90日未満の顧客は0）。", True, unit="currency", fill_zero=False, model=False),
    _p("days_since_last_activity", "change", "account_bucket", "days_since_last_activity", "days since last activity",
       "最終利用からの日数", "Days since the last day with any activity (since the start date if none).",
       "最後に利用があった日からの日数（利用がなければ契約開始から）。", False, unit="days", skewed=True),
    # derived
    _d("feature_breadth", "breadth", "features_used{w} / CAST(nullif(n_features, 0) AS DOUBLE)",
       "feature breadth ({w})", "機能利用率（{w}）",
       "Share of the product's features used (features used / features in the product).",
       "製品の全機能のうち利用された機能の割合。", True, unit="ratio", per_window=True),
    _d("active_user_ratio", "reach", "CAST(active_users{w} AS DOUBLE) / nullif(seats, 0)",
       "active users / seats ({w})", "アクティブユーザー率（{w}）", "Active users per seat held.",
       "契約席数に対するアクティブユーザーの割合。", True, unit="ratio", fill_zero=False, per_window=True),
    # {s}: the shortest trailing window's suffix (_28d by default), {sd} its days, {p} the window before it
    _d("dau_mau", "reach", "CASE WHEN active_users{s} > 0 THEN (user_days{s} / {sd}) / active_users{s} "
       "ELSE 0 END", "DAU/MAU", "DAU/MAU（定着度）",
       "Stickiness: average daily active users over the last 28 days / distinct users active in them (MAU); "
       "0 without any active user.", "過去28日の平均日次アクティブユーザー数 ÷ 28日間の利用ユーザー数（MAU）。",
       True, unit="ratio"),
    _d("logins_pct_change", "change",
       "CASE WHEN logins{p} > 0 THEN 100.0 * (logins{s} - logins{p}) / logins{p} "
       "WHEN logins{s} = 0 THEN 0 END", "logins % change", "ログイン回数の増減率",
       "Logins in the last 28 days against the 28 days before, in percent (empty when that was 0 and now is not).",
       "直近28日のログイン回数の前28日比（%）。", True, unit="%", fill_zero=False),
    _d("active_users_pct_change", "change",
       "CASE WHEN active_users{p} > 0 THEN 100.0 * (active_users{s} - active_users{p}) "
       "/ active_users{p} WHEN active_users{s} = 0 THEN 0 END", "active users % change",
       "アクティブユーザー数の増減率", "Active users in the last 28 days against the 28 days before, in percent.",
       "直近28日のアクティブユーザー数の前28日比（%）。", True, unit="%", fill_zero=False),
    _d("usage_hours_pct_change", "change",
       "CASE WHEN usage_hours{p} > 0 THEN 100.0 * (usage_hours{s} - usage_hours{p}) "
       "/ usage_hours{p} WHEN usage_hours{s} = 0 THEN 0 END", "usage hours % change", "利用時間の増減率",
       "Usage hours in the last 28 days against the 28 days before, in percent.", "直近28日の利用時間の前28日比（%）。",
       True, unit="%", fill_zero=False),
    # per active user: how people use the product, apart from how many they are (behavioural personas,
    # engage_models.journeys); 0 without any active user; not offered to the churn models
    _d("usage_hours_per_user", "depth",
       "CASE WHEN active_users{w} > 0 THEN usage_hours{w} / active_users{w} ELSE 0 END",
       "usage hours per active user ({w})", "アクティブユーザー1人あたり利用時間（{w}・時間）",
       "Usage hours / active users in the window (0 without any active user).",
       "利用時間 ÷ アクティブユーザー数（アクティブユーザーがいなければ0）。", True, unit="hours", skewed=True,
       model=False, per_window=True),
    _d("exports_per_user", "depth",
       "CASE WHEN active_users{w} > 0 THEN CAST(exports{w} AS DOUBLE) / active_users{w} ELSE 0 END",
       "outputs per active user ({w})", "アクティブユーザー1人あたりアウトプット数（{w}）",
       "Outputs (exports) / active users in the window (0 without any active user).",
       "アウトプット数 ÷ アクティブユーザー数（アクティブユーザーがいなければ0）。", True, unit="ratio",
       skewed=True, model=False, per_window=True),
    _d("content_views_per_user", "content",
       "CASE WHEN active_users{w} > 0 THEN CAST(content_views{w} AS DOUBLE) / active_users{w} ELSE 0 END",
       "content views per active user ({w})", "アクティブユーザー1人あたりコンテンツ閲覧数（{w}）",
       "Views of content the company sent / active users in the window (0 without any active user).",
       "配信コンテンツ閲覧数 ÷ アクティブユーザー数（アクティブユーザーがいなければ0）。", True, unit="ratio",
       skewed=True, model=False, per_window=True),
    _d("community_posts_per_user", "communication",
       "CASE WHEN active_users{w} > 0 THEN CAST(community_posts{w} AS DOUBLE) / active_users{w} ELSE 0 END",
       "community posts per active user ({w})", "アクティブユーザー1人あたりコミュニティ投稿数（{w}）",
       "Community posts / active users in the window (0 without any active user).",
       "コミュニティ投稿数 ÷ アクティブユーザー数（アクティブユーザーがいなければ0）。", True, unit="ratio",
       skewed=True, model=False, per_window=True),
)

#: Window metrics whose previous window is computed too (inputs of the ``change`` family).
CHANGE_INPUTS = ("logins", "active_users", "usage_hours")

#: Point-in-time queries. Each runs over ``spine`` (account_id, as_of, start_date) and returns one row per
#: spine row that has a value, with the columns named by the point metrics above.
POINT_QUERIES: dict[str, str] = {
    "tickets": """
        SELECT g.account_id, g.as_of,
               sum(CASE WHEN t.closed_at IS NULL OR t.closed_at >= g.as_of THEN 1 ELSE 0 END) AS open_tickets
        FROM spine g JOIN tickets t ON t.account_id = g.account_id AND t.opened_at < g.as_of
        GROUP BY g.account_id, g.as_of
    """,
    # latest and previous "wave": answers within 30 days up to the latest answer before as_of, and the same
    # for the latest answer more than 30 days before that one
    "surveys": """
        WITH s AS (
            SELECT g.account_id, g.as_of, v.survey_type, v.submitted_at, v.score
            FROM spine g JOIN surveys v ON v.account_id = g.account_id AND v.submitted_at < g.as_of
            WHERE v.survey_type IN ('nps', 'csat')
        ), t1 AS (
            SELECT account_id, as_of, survey_type, max(submitted_at) AS last_at FROM s GROUP BY 1, 2, 3
        ), t0 AS (
            SELECT s.account_id, s.as_of, s.survey_type, max(s.submitted_at) AS prev_at
            FROM s JOIN t1 ON s.account_id = t1.account_id AND s.as_of = t1.as_of AND s.survey_type = t1.survey_type
            WHERE s.submitted_at <= t1.last_at - INTERVAL 30 DAY
            GROUP BY 1, 2, 3
        ), waves AS (
            SELECT s.account_id, s.as_of, s.survey_type,
                   avg(CASE WHEN s.submitted_at > t1.last_at - INTERVAL 30 DAY THEN s.score END) AS latest,
                   avg(CASE WHEN s.submitted_at <= t0.prev_at AND s.submitted_at > t0.prev_at - INTERVAL 30 DAY
                            THEN s.score END) AS previous
            FROM s JOIN t1 ON s.account_id = t1.account_id AND s.as_of = t1.as_of AND s.survey_type = t1.survey_type
            LEFT JOIN t0 ON s.account_id = t0.account_id AND s.as_of = t0.as_of AND s.survey_type = t0.survey_type
            GROUP BY 1, 2, 3
        )
        SELECT account_id, as_of,
               max(CASE WHEN survey_type = 'nps' THEN latest END) AS nps_latest,
               max(CASE WHEN survey_type = 'nps' THEN latest - previous END) AS nps_change,
               max(CASE WHEN survey_type = 'csat' THEN latest END) AS csat_latest,
               max(CASE WHEN survey_type = 'csat' THEN latest - previous END) AS csat_change
        FROM waves GROUP BY 1, 2
    """,
    # CSAT waves as the surveys' (above, whose CSAT columns the panel does not read: that query's text is kept as
    # it was, so the NPS metrics' definitions, and the frozen models that hold them, stay as they were) over every
    # CSAT score: the survey answers and the tickets' own ``csat`` where no CSAT answer submitted before as_of
    # names the ticket (the rule of engage_models.surveys.csat.csat_scores), given when the ticket closed (else
    # opened). ``{ticket_id}``: the surveys' ticket_id where they have one; ``{ticket_csat}``: the tickets' csat.
    "csat": """
        WITH named AS (
            SELECT CAST({ticket_id} AS VARCHAR) AS ticket_id, min(submitted_at) AS named_at
            FROM surveys WHERE survey_type = 'csat' AND {ticket_id} IS NOT NULL
            GROUP BY 1
        ), s AS (
            SELECT g.account_id, g.as_of, v.submitted_at, v.score
            FROM spine g JOIN surveys v ON v.account_id = g.account_id AND v.submitted_at < g.as_of
            WHERE v.survey_type = 'csat'
            UNION ALL
            SELECT g.account_id, g.as_of, coalesce(t.closed_at, t.opened_at) AS submitted_at, {ticket_csat} AS score
            FROM spine g JOIN tickets t ON t.account_id = g.account_id AND coalesce(t.closed_at, t.opened_at) < g.as_of
            LEFT JOIN named n ON n.ticket_id = t.ticket_id
            WHERE {ticket_csat} IS NOT NULL AND (n.named_at IS NULL OR n.named_at >= g.as_of)
        ), t1 AS (
            SELECT account_id, as_of, max(submitted_at) AS last_at FROM s GROUP BY 1, 2
        ), t0 AS (
            SELECT s.account_id, s.as_of, max(s.submitted_at) AS prev_at
            FROM s JOIN t1 ON s.account_id = t1.account_id AND s.as_of = t1.as_of
            WHERE s.submitted_at <= t1.last_at - INTERVAL 30 DAY
            GROUP BY 1, 2
        )
        SELECT s.account_id, s.as_of,
               avg(CASE WHEN s.submitted_at > t1.last_at - INTERVAL 30 DAY THEN s.score END) AS csat_latest,
               avg(CASE WHEN s.submitted_at > t1.last_at - INTERVAL 30 DAY THEN s.score END)
                 - avg(CASE WHEN s.submitted_at <= t0.prev_at AND s.submitted_at > t0.prev_at - INTERVAL 30 DAY
                            THEN s.score END) AS csat_change
        FROM s JOIN t1 ON s.account_id = t1.account_id AND s.as_of = t1.as_of
        LEFT JOIN t0 ON s.account_id = t0.account_id AND s.as_of = t0.as_of
        GROUP BY 1, 2
    """,
    # MRR and seats of the latest subscription month that started before as_of, and MRR 90 days earlier
    "subscriptions": """
        WITH j AS (
            SELECT g.account_id, g.as_of, s.period_start, s.mrr, {seats} AS seats,
                   row_number() OVER (PARTITION BY g.account_id, g.as_of ORDER BY s.period_start DESC) AS rn,
                   row_number() OVER (PARTITION BY g.account_id, g.as_of,
                                      s.period_start < g.as_of - INTERVAL 90 DAY ORDER BY s.period_start DESC) AS rn90
            FROM spine g JOIN subscriptions s ON s.account_id = g.account_id AND s.period_start < g.as_of
        )
        SELECT account_id, as_of,
               max(CASE WHEN rn = 1 THEN mrr END) AS mrr,
               max(CASE WHEN rn = 1 THEN seats END) AS seats,
               max(CASE WHEN rn = 1 THEN mrr END)
                 - coalesce(max(CASE WHEN rn90 = 1 AND period_start < as_of - INTERVAL 90 DAY THEN mrr END),
                            max(CASE WHEN rn = 1 THEN mrr END)) AS mrr_change_90d
        FROM j GROUP BY 1, 2
    """,
    # without subscriptions: seats = users holding a seat at as_of; MRR = the accounts table's current MRR
    "users": """
        SELECT g.account_id, g.as_of, count(*) AS seats
        FROM spine g JOIN users u ON u.account_id = g.account_id
        WHERE coalesce(u.created_at < g.as_of, TRUE) AND {deactivated}
        GROUP BY 1, 2
    """,
}

#: Point metrics computed by a query other than their source's (see the "csat" query).
POINT_QUERY_OF = {"csat_latest": "csat", "csat_change": "csat"}


# --------------------------------------------------------------------------------------------- lookups
def _window_label(window: str, lang: str) -> str:
    days = window.removeprefix("prev").removesuffix("d")
    if window.startswith("prev"):
        return f"前の{days}日" if lang == "ja" else f"previous {days} days"
    return f"{days}日" if lang == "ja" else f"{days} days"


def derived_sql(metric: Metric, windows: tuple[Window, ...], window: str | None = None) -> str:
    """A derived metric's SQL for a panel of ``windows``: ``{w}`` its own window, ``{s}`` the change window
    (28 days when the panel has it, else its shortest; ``{sd}`` its days), ``{p}`` the window before it (the
    change metrics compare the two). A model's ``dau_mau`` is the same number whatever other windows a panel
    adds: a frozen model scores it as it was trained.

    >>> derived_sql(get("dau_mau"), windows_for((14, 28, 90)))
    'CASE WHEN active_users_28d > 0 THEN (user_days_28d / 28.0) / active_users_28d ELSE 0 END'
    >>> derived_sql(get("dau_mau"), windows_for((14, 90)))
    'CASE WHEN active_users_14d > 0 THEN (user_days_14d / 14.0) / active_users_14d ELSE 0 END'
    """
    prev = next(w for w in windows if w.end)
    short = next(w for w in windows if w.end == 0 and w.start == prev.end)
    return (metric.sql.replace("{w}", "_" + window if window else "").replace("{sd}", f"{float(short.start)}")
            .replace("{s}", short.suffix).replace("{p}", prev.suffix))


def expand(windows: tuple[Window, ...] | None = None) -> dict[str, Metric]:
    """Panel column name -> its metric, with one column per window for windowed metrics.

    ``prev`` windows are computed only for the inputs of the change metrics, and are not offered to models.
    """
    windows = windows or windows_for()
    trailing = [w for w in windows if w.end == 0]
    out: dict[str, Metric] = {}
    for m in REGISTRY:
        if m.kind == "window" or m.per_window:
            for w in windows:
                if w.end and m.name not in CHANGE_INPUTS:
                    continue
                col = m.name + w.suffix
                lab = lambda s, w=w, lang="en": s.replace("{w}", _window_label(w.name, lang))  # noqa: E731
                out[col] = replace(
                    m, name=col, window=w.name, windows=tuple(x.name for x in trailing),
                    label_en=lab(m.label_en), label_ja=lab(m.label_ja, lang="ja"),
                    model=m.model and not w.end,
                )
        else:
            out[m.name] = m
    return out


#: Every column of the default panel (default windows), for lookups by column name.
REGISTRY_COLUMNS: dict[str, Metric] = expand()


def get(column: str) -> Metric:
    """The metric behind a panel column (``'logins_28d'``) or a metric name (``'logins'``)."""
    if column in REGISTRY_COLUMNS:
        return REGISTRY_COLUMNS[column]
    for m in REGISTRY:
        if m.name == column:
            return m
    raise KeyError(f"no metric {column!r} in the registry")


def columns(family: str | None = None, model_only: bool = False,
            windows: tuple[Window, ...] | None = None) -> list[str]:
    """Panel columns, optionally of one family or only those offered to models."""
    cols = expand(windows) if windows else REGISTRY_COLUMNS
    return [c for c, m in cols.items() if (family is None or m.family == family) and (m.model or not model_only)]


def label(column: str, lang: str = "en") -> str:
    """Readable name of a panel column (the column name itself when it is not a metric). A windowed metric's name
    without its window (a table of one's own with a column ``tickets``) reads without one: its label's window
    placeholder was shown as written ("tickets opened ({w})").

    >>> label("tickets"), label("tickets_28d"), label("usage_hours", "ja") == label("usage_hours_28d", "ja")
    ('tickets opened', 'tickets opened (28 days)', False)
    """
    try:
        text = get(column).label(lang)
    except KeyError:
        return column
    # " ({w})", its full-width form, and "{w}\u30fb" before a unit: the window named nowhere else
    return re.sub("\\s*\\(\\{w\\}\\)|\uff08\\{w\\}\uff09|\\{w\\}\u30fb", "", text).replace("{w}", "").strip()


def higher_is_better(column: str) -> bool | None:
    return get(column).higher_is_better


def describe(lang: str = "en", windows: tuple[Window, ...] | None = None):
    """The registry as a table (for reports and documentation)."""
    import pandas as pd

    rows = [
        {"column": c, "family": FAMILY_LABELS[m.family][lang == "ja"], "label": m.label(lang),
         "source": m.source if m.source != "panel" else "derived", "window": m.window or "",
         "higher is better": {True: "yes", False: "no", None: ""}[m.higher_is_better],
         "description": m.description(lang)}
        for c, m in (expand(windows) if windows else REGISTRY_COLUMNS).items()
    ]
    return pd.DataFrame(rows)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _rollup_definition(name: str, measures: set[str]) -> dict:
    """The parts of rollup ``name`` that the measures ``measures`` are made of, down to the events."""
    r = ROLLUPS[name]
    used = {m: r.measures[m] for m in sorted(measures) if m in r.measures}
    out = {"source": r.source, "keys": list(r.keys), "where": r.where, "time": r.time, "measures": used}
    if r.source in ROLLUPS:
        inner = {n for sql in used.values() for n in _NAME.findall(sql)}
        out["from"] = _rollup_definition(r.source, inner)
    return out


def definition(column: str, days: tuple[int, ...] = DEFAULT_WINDOWS) -> dict:
    """What the panel column ``column`` is computed from in a panel of trailing windows ``days``, as declared:
    its SQL, its window, the rollup measures or point query it reads and, for a derived column, the definitions
    of the columns it is made of. Two versions of the package that give a column the same definition compute it
    the same way from the same data, as far as the registry says (the panel's code around it is not in it).
    A frozen model keeps the digest of each of its metrics' definitions (:func:`definition_digests`), so that a
    model trained before a metric was redefined is not scored on the new numbers."""
    windows = windows_for(tuple(days))
    cols = expand(windows)
    m = cols[column]
    out = {"kind": m.kind, "source": m.source, "sql": m.sql, "fill_zero": m.fill_zero}
    if m.kind == "window" or (m.kind == "derived" and m.per_window):
        w = next(x for x in windows if x.name == m.window)
        out["window"] = [w.start, w.end]
    if m.kind == "window" and m.source in ROLLUPS:
        out["rollup"] = _rollup_definition(m.source, set(_NAME.findall(m.sql)))
    elif m.kind == "window" and m.source in WINDOW_SOURCES:
        out["time"] = WINDOW_SOURCES[m.source]
    elif m.kind == "point":
        # the whole query (its columns are computed together), its layout left out: an indentation is no change
        queries = (POINT_QUERY_OF.get(m.name, m.source), "users" if m.name == "seats" else None)
        out["query"] = {k: " ".join(POINT_QUERIES[k].split()) for k in queries if k in POINT_QUERIES}
    elif m.kind == "derived":
        out["sql"] = derived_sql(m, windows, m.window)
        out["inputs"] = {n: definition(n, days) for n in sorted(set(_NAME.findall(out["sql"])))
                         if n in cols and n != column}
    return out


def definition_digests(columns, days: tuple[int, ...] = DEFAULT_WINDOWS) -> dict[str, str]:
    """``{column: digest}`` of :func:`definition` for the registry's columns among ``columns`` (others, such as
    an account's plan, are left out)."""
    cols = expand(windows_for(tuple(days)))
    return {c: hashlib.sha256(json.dumps(definition(c, days), sort_keys=True).encode()).hexdigest()[:16]
            for c in columns if c in cols}


@dataclass
class PanelSpec:
    """What a panel holds: windows, horizon, and which metric columns (all of the registry by default)."""

    windows: tuple[Window, ...] = field(default_factory=windows_for)
    horizon_days: int = 90

    @property
    def metrics(self) -> dict[str, Metric]:
        return expand(self.windows)


def _registry_label(key: str, lang: str) -> str | None:
    return REGISTRY_COLUMNS[key].label(lang) if key in REGISTRY_COLUMNS else None


register_labels(_registry_label)
