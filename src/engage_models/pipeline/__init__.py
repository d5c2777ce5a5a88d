"""The run as named stages: ``ingest -> quality -> panel -> kpis -> surveys -> health -> personas -> survival ->
actions -> effects -> monitoring -> summary`` (see :mod:`~engage_models.pipeline.stages` for what each reads and
writes).

>>> from engage_models import pipeline
>>> pipeline.STAGE_NAMES[-3:]
('effects', 'monitoring', 'summary')

``pipeline.run(config)`` runs them (any prefix with ``until=``), reusing each stage whose inputs, parameters and
code are unchanged; the notebooks only render what the stages wrote (:func:`open_run` reads a published run).
"""

from .config import ActionConfig, DeliveryConfig, HealthConfig, RunConfig, SurveyConfig, SurvivalConfig
from .flow import Run, StageRecord, open_run, run
from .stages import STAGE_NAMES, STAGES, Stage

__all__ = ["STAGES", "STAGE_NAMES", "ActionConfig", "DeliveryConfig", "HealthConfig", "Run", "RunConfig", "Stage",
           "StageRecord", "SurveyConfig", "SurvivalConfig", "open_run", "run"]
