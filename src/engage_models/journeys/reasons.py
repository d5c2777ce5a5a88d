"""Why a section of the personas stage is missing, in every language of the reports: the package's reasons
(:mod:`engage_models._core.reasons`), which the stage's manifest keeps in every language.

Report 07 of a run published before the manifest kept them reads the stage's ``reasons`` JSON (section ->
language -> text) that this module's ``Reasons`` wrote then (:func:`engage_models.journeys.views.missing_reason`).
"""

from __future__ import annotations

from .._core.reasons import Thin, Why, reason_of, text

__all__ = ["Thin", "Why", "reason_of", "text"]
