"""Why a section or a stage is missing, in every language of the reports.

A stage records a skipped section's reason in English in its manifest; the reports are also read in Japanese.
:class:`Why` is that English text as a ``str`` that also knows its catalogue key and values
(``locales/messages.yaml``), so the manifest keeps the reason in every language (``texts``) and a Japanese
report says it in Japanese. :class:`Thin` is :class:`~engage_models._core.errors.InsufficientData` raised with
a :class:`Why`. A reason that comes as plain text (a library's error, a reason not yet in the catalogue) is
shown in a Japanese report inside a sentence that says it is in English.

>>> w = Why("pj.why.few_accounts", n=12, days=90, need=30)
>>> w == "12 accounts with at least 90 days of tenure at the fitting dates; personas need 30"
True
>>> text(w, "ja") == t("pj.why.few_accounts", "ja", n=12, days=90, need=30) != w
True
>>> text("a library said no", "ja")
'詳細（英語）：a library said no'
"""

from __future__ import annotations

from .errors import InsufficientData
from .i18n import LANGS, fmt_date, t


class Why(str):
    """A reason: its English text, with the catalogue key and values that give it in the other languages (or,
    read back from a manifest, its texts in every language: :meth:`of`)."""

    key: str | None
    fmt: dict
    texts: dict | None

    def __new__(cls, key: str, **fmt):
        obj = super().__new__(cls, t(key, "en", **_in(fmt, "en")))
        obj.key, obj.fmt, obj.texts = key, fmt, None
        return obj

    @classmethod
    def of(cls, texts: dict) -> Why:
        """A reason read back from its texts (``{lang: text}``, English included)."""
        obj = str.__new__(cls, texts["en"])
        obj.key, obj.fmt, obj.texts = None, {}, dict(texts)
        return obj

    def text(self, lang: str = "en") -> str:
        if self.texts is not None:
            return self.texts.get(lang) or self.texts["en"]
        return t(self.key, lang, **_in(self.fmt, lang))

    def all(self) -> dict[str, str]:
        """``{lang: text}`` for every language of the reports."""
        return {lang: self.text(lang) for lang in LANGS}


def date_of(ts, month_only: bool = False) -> Why:
    """A date in a reason as each language writes it (``1 Oct 2024``, ``2024年10月1日``; a Japanese reason said
    2024-10-01)."""
    return Why.of({lang: fmt_date(ts, lang, month_only=month_only) for lang in LANGS})


def stage_name(stage: str) -> Why:
    """A stage as a reason names it: its id in English (``the health stage``), its label in the other languages
    (``「ヘルススコア」``)."""
    return Why.of({lang: stage if lang == "en" else t("reason.stage", lang, name=t(f"stage.{stage}", lang))
                   for lang in LANGS})


def section_label(section: str, lang: str = "en") -> str:
    """A stage's section (an artifact name such as ``nps_wave_change``) in words: its ``section.<name>`` label;
    ``km_<milestone>`` and ``km_naive_<milestone>`` name their milestone, ``backtest_<model>`` its model; a name
    without a label is shown as it is."""
    from .i18n import catalogue

    if f"section.{section}" in catalogue():
        return t(f"section.{section}", lang)
    for prefix, key, field in (("km_naive_", "section.km_naive_milestone", "milestone"),
                               ("km_", "section.km_milestone", "milestone"),
                               ("backtest_", "section.backtest_model", "model")):
        if section.startswith(prefix) and len(section) > len(prefix):
            name = section[len(prefix):]
            return t(key, lang, **{field: _milestone(name, lang) if field == "milestone" else name})
    return section


def _milestone(name: str, lang: str) -> str:
    from .i18n import catalogue

    if f"milestone.{name}" in catalogue():
        return t(f"milestone.{name}", lang)
    if name.startswith("first_use_"):  # one milestone per feature (engage_models.journeys.milestones)
        return t("milestone.first_use", lang, feature=name[len("first_use_"):])
    return name


def section_name(section: str) -> Why:
    """A section as a reason names it, in every language (see :func:`section_label`)."""
    return Why.of({lang: section_label(section, lang) for lang in LANGS})


def _in(fmt: dict, lang: str) -> dict:
    return {k: v.text(lang) if isinstance(v, Why) else v for k, v in fmt.items()}


def text(reason, lang: str = "en") -> str:
    """``reason`` in ``lang``: a :class:`Why` in its words; plain text inside the generic sentence."""
    if isinstance(reason, Why):
        return reason.text(lang)
    return str(reason) if lang == "en" else t("reason.other", lang, reason=str(reason))


def texts(reason) -> dict[str, str] | None:
    """What a manifest keeps of ``reason`` besides its English: every language for a :class:`Why`, else None."""
    return reason.all() if isinstance(reason, Why) else None


def stored(reason: str, texts: dict | None):
    """A reason read back from a manifest: a :class:`Why` when its texts were kept, else the English text."""
    return Why.of({**texts, "en": reason}) if texts else reason


class Thin(InsufficientData):
    """:class:`InsufficientData` whose reason is a :class:`Why` (``Thin("pj.why.x", n=3)``)."""

    def __init__(self, key: str, **fmt):
        self.why = Why(key, **fmt)
        super().__init__(self.why)

    @classmethod
    def of(cls, why) -> InsufficientData:
        """The error for a reason already made (a :class:`Why`, or plain text)."""
        if not isinstance(why, Why):
            return InsufficientData(str(why))
        exc = cls.__new__(cls)
        exc.why = why
        InsufficientData.__init__(exc, why)
        return exc


def reason_of(exc: Exception):
    """The reason an error gives: its :class:`Why` when it has one, else its text."""
    return getattr(exc, "why", None) or str(exc)
