"""Scores in production: trained models as folders named by their content, scoring without refitting, and the
retrain policy.

* :mod:`.frozen`: :func:`save_frozen` / :func:`load_frozen` (model.skops, card.json, card.html, reference.parquet);
* :mod:`.store`: the models folder (every model kept, a ``current.json`` pointer) and :func:`decide`, the policy
  of ``engage run --retrain never|monthly|on-drift``;
* :mod:`.stage`: the health stage's two ends: freezing the model it trained, and scoring with a frozen one.
"""

from .frozen import FrozenModel, load_frozen, resolve, save_frozen
from .store import POLICIES, ModelStore, decide

__all__ = ["FrozenModel", "ModelStore", "POLICIES", "decide", "load_frozen", "resolve", "save_frozen"]
