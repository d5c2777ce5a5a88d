"""Why a section of the personas stage is missing, in every language of the reports.

A stage records a skipped section's reason in English in its manifest (:meth:`Output.skip`); report 07 is
also read in Japanese. :class:`Why` is that English text as a ``str`` that also knows its locale key and
values, so the stage can write the reason in each language (:meth:`Reasons.write`, the ``reasons`` JSON the
report reads). A reason that comes as plain text (another stage's, a library's) is shown in Japanese inside
a Japanese sentence that says the section could not be computed.

>>> w = Why("pj.why.few_accounts", n=12, days=90, need=30)
>>> w == "12 accounts with at least 90 days of tenure at the fitting dates; personas need 30"
True
>>> w.text("ja") == t("pj.why.few_accounts", "ja", n=12, days=90, need=30) != w
True
"""

from __future__ import annotations

from .._core.errors import InsufficientData
from .._core.i18n import LANGS, t


class Why(str):
    """A reason: its English text, with the locale key and values that give it in the other languages."""

    key: str
    fmt: dict

    def __new__(cls, key: str, **fmt):
        obj = super().__new__(cls, t(key, "en", **_in(fmt, "en")))
        obj.key, obj.fmt = key, fmt
        return obj

    def text(self, lang: str = "en") -> str:
        return t(self.key, lang, **_in(self.fmt, lang))


def _in(fmt: dict, lang: str) -> dict:
    return {k: text(v, lang) if isinstance(v, Why) else v for k, v in fmt.items()}


def text(reason, lang: str = "en") -> str:
    """``reason`` in ``lang``: a :class:`Why` in its words; plain text inside the generic sentence."""
    if isinstance(reason, Why):
        return reason.text(lang)
    return str(reason) if lang == "en" else t("pj.why.other", lang, reason=str(reason))


class Thin(InsufficientData):
    """:class:`InsufficientData` whose reason is a :class:`Why` (``Thin("pj.why.x", n=3)``)."""

    def __init__(self, key: str, **fmt):
        self.why = Why(key, **fmt)
        super().__init__(self.why)


def reason_of(exc: Exception):
    return getattr(exc, "why", None) or str(exc)


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
        self.out.skip(section, str(reason), **({"kind": kind} if kind else {}))
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
