"""Ingest: raw tables checked against the data contracts into ``processed/``, bad rows quarantined with reasons.

:mod:`~.contracts` declares each table once, :mod:`~.sources` says where each table comes from (``sources.yaml``),
:mod:`~.files` reads text files as they come (encodings, lines that are not rows), :mod:`~.validate` compiles the
declarations into DuckDB SQL and writes the processed and quarantined rows, all tables or none, and
:mod:`~.quality` describes the result for the data-quality report.
"""

from .contracts import CONTRACTS, TABLE_ORDER
from .sources import Source, load_sources
from .validate import SUFFIXES, IngestError, IngestReport, TableResult, find_source, ingest, load

__all__ = ["CONTRACTS", "SUFFIXES", "TABLE_ORDER", "IngestError", "IngestReport", "Source", "TableResult",
           "find_source", "ingest", "load", "load_sources"]
