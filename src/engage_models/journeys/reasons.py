"""Why a section of the personas stage is missing, in every language of the reports.

The reasons themselves (:class:`Why`, :class:`Thin`) are the package's (:mod:`engage_models._core.reasons`);
:class:`Reasons` also writes them as the stage's ``reasons`` JSON (section -> language -> text), which report
07 reads.
"""

from __future__ import annotations

from .._core.errors import InsufficientData
from .._core.i18n import LANGS
from .._core.reasons import Thin, Why, reason_of, text

__all__ = ["Reasons", "Thin", "Why", "reason_of", "text"]


class Reasons:
    """The sections a stage skipped, with their reasons in every language.

    :meth:`skip` records the English reason in the manifest (as ``out.skip``) and keeps the others;
    :meth:`section` is ``ctx.section`` for :class:`Thin`; :meth:`write` writes ``reasons`` (JSON: section ->
    language -> text).
    """

    def __init__(self, out):
        self.out = out
        self.texts: dict[str, dict[str, str]] = {}

    def skip(self, section: str, reason, kind: str | None = None) -> None:
        self.out.skip(section, reason, **({"kind": kind} if kind else {}))
        self.texts[section] = {lang: text(reason, lang) for lang in LANGS}

    def section(self, names, compute) -> bool:
        try:
            compute()
            return True
        except InsufficientData as exc:
            for n in (names,) if isinstance(names, str) else names:
                self.skip(n, reason_of(exc))
            return False

    def write(self) -> None:
        self.out.json("reasons", self.texts)
