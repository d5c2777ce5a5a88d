"""Features: the metric registry and the account x period panel computed from it by an engine.

:mod:`~.metrics` names every metric once (definition, SQL, labels); :mod:`~.panel` compiles the registry into
the panel's SQL; :mod:`~.engine` runs it on DuckDB or Spark; :mod:`~.spark_job` is the ``spark-submit`` entry.
"""
