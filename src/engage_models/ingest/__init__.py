"""Ingest: raw tables checked against the data contracts into ``processed/``, bad rows quarantined with reasons.

:mod:`~.contracts` declares each table once, :mod:`~.validate` compiles the declarations into DuckDB SQL and
writes the processed and quarantined rows, :mod:`~.quality` describes the result for the data-quality report.
"""

from .contracts import CONTRACTS, TABLE_ORDER
from .validate import SUFFIXES, IngestError, IngestReport, TableResult, find_source, ingest, load

__all__ = ["CONTRACTS", "SUFFIXES", "TABLE_ORDER", "IngestError", "IngestReport", "TableResult", "find_source",
           "ingest", "load"]
