"""Helpers every part of the package shares; nothing here imports another part of the package.

:mod:`~.errors` the error family, :mod:`~.time` UTC and months, :mod:`~.stats` intervals and link functions,
:mod:`~.io` atomic files and JSON, :mod:`~.i18n` the message catalogue and number formats,
:mod:`~.display` tables for notebooks, :mod:`~.plots` the figure style, :mod:`~.progress` bars on long stages.
"""
