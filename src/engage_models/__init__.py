"""engage-models: statistics-first customer-engagement analytics.

The run is a pipeline of stages in the package (:mod:`engage_models.pipeline`): ingest, quality, panel, KPIs,
surveys, health score, survival, actions, summary; the notebooks in ``notebooks/`` only render what the stages
wrote, and :mod:`engage_models.reports.runner` turns them into HTML reports. In JupyterLab, start from a
published run::

    import engage_models
    run = engage_models.open_run("reports/latest")
    run.scores, run.panel, run.health_model, run.parameters
"""

__version__ = "0.1.0"

from .features import metrics as _metrics  # noqa: E402, F401  (the registry names its metrics in every language)

__all__ = ["RunConfig", "open_run", "run_pipeline"]


def __getattr__(name: str):
    # the pipeline (pandas, scikit-learn...) loads on first use, so `engage --help` stays quick
    if name in ("open_run", "RunConfig"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "run_pipeline":
        from .pipeline import run

        return run
    raise AttributeError(f"module 'engage_models' has no attribute {name!r}")
