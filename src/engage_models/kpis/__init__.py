"""Business KPIs from accounts, subscriptions and the panel: see :mod:`~engage_models.kpis.compute` for the
definitions; :mod:`~engage_models.kpis.tables` reads the inputs, :mod:`~engage_models.kpis.views` shows them and
:mod:`~engage_models.kpis.engagement` ranks accounts by engagement."""

from .._core.stats import wilson_interval
from .compute import (
    EVENT_KPIS,
    MOVEMENTS,
    RATIO_COLUMNS,
    cohort_matrix,
    cohort_retention,
    continuation_rate,
    default_as_of,
    engagement_over_time,
    kpi_start,
    kpi_summary,
    logo_churn,
    monthly_mrr,
    months_until,
    mrr_bridge,
    mrr_movements,
    revenue_retention,
    trailing_revenue_retention,
)
from .tables import load_tables
from .views import (
    churn_stop_note,
    definitions_view,
    events_note,
    plot_cohort_heatmap,
    plot_kpi_trend,
    plot_mrr_movements,
    plot_mrr_waterfall,
    start_note,
    summary_view,
    unseen_note,
)

__all__ = [
    "EVENT_KPIS",
    "MOVEMENTS",
    "RATIO_COLUMNS",
    "churn_stop_note",
    "cohort_matrix",
    "cohort_retention",
    "continuation_rate",
    "default_as_of",
    "definitions_view",
    "engagement_over_time",
    "events_note",
    "kpi_start",
    "kpi_summary",
    "load_tables",
    "logo_churn",
    "monthly_mrr",
    "months_until",
    "mrr_bridge",
    "mrr_movements",
    "plot_cohort_heatmap",
    "plot_kpi_trend",
    "plot_mrr_movements",
    "plot_mrr_waterfall",
    "revenue_retention",
    "start_note",
    "summary_view",
    "trailing_revenue_retention",
    "unseen_note",
    "wilson_interval",
]
