"""engage-models: statistics-first customer-engagement analytics.

The package holds the logic; the notebooks in ``notebooks/`` call it and the runner turns them into
HTML reports. Start with :func:`engage_models.demo.simulator.simulate` for a demo world with known truth,
:func:`engage_models.ingest.validate.ingest` to validate raw tables, and :func:`engage_models.reports.runner.run` for
the whole report.
"""

__version__ = "0.1.0"
