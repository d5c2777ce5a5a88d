"""Personas and journeys: who the customers are, and which paths keep them.

=================  =========================================================================================
module             what it holds
=================  =========================================================================================
``personas``       behavioural personas: skew-aware scaled per-user metrics, k-means with the number chosen by
                   silhouette among bootstrap-stable solutions, words for what sets each apart, and a registry
                   that keeps their names from run to run (Hungarian matching of centroids)
``users``          user personas where events carry a user: per-user measures, the users of each account by
                   user persona (inactive users counted), and by account persona
``reasons``        why a section is missing, in English and Japanese
``milestones``     the milestone registry (first login, first use of each key feature, first export,
                   onboarding completed, first ticket, first community post, first event attended; add your
                   own), when each account reached each, time to first value, and the landmark comparison of
                   retention that avoids immortal-time bias
``channels``       touches by channel and device before and after the contract start; which of them precede
                   churn or expansion
``flows``          month-to-month paths through the playbook's lifecycle stages, and the alluvial diagram
``stage``          the pipeline stage ``personas`` that computes all of it from a run's tables
``views``          the report's tables and figures, in English and Japanese
=================  =========================================================================================
"""

from .milestones import MILESTONES, Milestone, landmark_analysis, landmark_frame, load_milestones, naive_frame
from .personas import DEFAULT_METRICS, PersonaModel, PersonaRegistry

__all__ = ["DEFAULT_METRICS", "MILESTONES", "Milestone", "PersonaModel", "PersonaRegistry", "landmark_analysis",
           "landmark_frame", "load_milestones", "naive_frame"]
