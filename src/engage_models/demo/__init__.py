"""The demo world: a simulated B2B SaaS company with known churn drivers (:mod:`~.simulator`), and the bank of
survey comments it draws from (:mod:`~.comments`)."""

from .simulator import FEATURES, SEGMENTS, SimConfig, simulate

__all__ = ["FEATURES", "SEGMENTS", "SimConfig", "simulate"]
