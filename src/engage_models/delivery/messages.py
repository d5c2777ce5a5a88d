"""What a run says where people work: the digest of its alerts, and that digest as a Slack message, a Teams card
and a mail.

:func:`build_digest` reads a run's ``actions`` artifacts: the score alerts (fell by more than N points, moved into
red), the detractors at high-touch accounts, and the week's top accounts at risk. The renderers turn it into
text in the report's language (:func:`engage_models._core.i18n.t`).

Text that comes from the data (account names, survey comments, play labels from a user's playbook) is never
trusted: a comment can hold ``<!channel>``, ``@here``, HTML or a Markdown link. Each renderer escapes it for its
channel before it enters the message; the message's own formatting is added after escaping:

* Slack: ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (Slack's escaping rule: only these three
  start its control sequences ``<!channel>``, ``<@U123>``, ``<url|text>``);
* Teams (Adaptive Card ``TextBlock``, which renders Markdown): the Markdown characters get a backslash;
* both: an ``@`` before a word is followed by a word joiner (U+2060), so no ``@here`` / ``@channel`` can
  notify anyone, and line breaks become spaces, so a comment cannot start a line of its own;
* mail: plain text (``text/plain``), which no client renders as markup.

Comments are cut to :data:`COMMENT_CHARS` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from .._core.i18n import check_lang, fmt_date, plain, t
from .._core.money import fmt_money

#: At most this many characters of a survey comment reach a message.
COMMENT_CHARS = 200
_MENTION = re.compile(r"@(?=\w)")
_SPACE = re.compile(r"\s+")
_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]()<>~#|!])")


# ------------------------------------------------------------------------------------------------- escaping
def _plain(text) -> str:
    """User text on one line (runs of whitespace, line breaks included, become one space), without directional
    controls (:func:`~engage_models._core.i18n.plain`)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    return _SPACE.sub(" ", plain(text)).strip()


def _no_mentions(text: str) -> str:
    return _MENTION.sub("@\u2060", text)


def escape_slack(text) -> str:
    """User text for Slack's mrkdwn: ``&<>`` as entities, mentions broken, one line.

    >>> escape_slack("<!channel> ping @here & <https://evil.example|click>")
    '&lt;!channel&gt; ping @\\u2060here &amp; &lt;https://evil.example|click&gt;'
    """
    text = _plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _no_mentions(text)


def escape_teams(text) -> str:
    """User text for an Adaptive Card TextBlock (Markdown): Markdown characters backslashed, mentions broken.

    >>> escape_teams("[click](https://evil.example) **now**")
    '\\\\[click\\\\]\\\\(https://evil.example\\\\) \\\\*\\\\*now\\\\*\\\\*'
    """
    return _no_mentions(_TEAMS_MARKDOWN.sub(r"\\\1", _plain(text)))


def escape_mail(text) -> str:
    """User text for a plain-text mail: one line (nothing renders markup there)."""
    return _plain(text)


def _cut(text: str, n: int = COMMENT_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# ------------------------------------------------------------------------------------------------- digest
@dataclass
class Digest:
    """A run's alerts as plain records, ready for any channel."""

    run_date: str
    lang: str = "en"
    currency: str = "USD"
    since: pd.Timestamp | None = None  # the earlier observation date the alerts compare with
    link: str | None = None  # the report's address (None: only its place in the reports folder)
    where: str = ""  # the report's place in the reports folder: <run date>/index.html
    score_alerts: list[dict] = field(default_factory=list)
    detractors: list[dict] = field(default_factory=list)
    at_risk: list[dict] = field(default_factory=list)
    n_score_alerts: int = 0
    n_detractors: int = 0  # answers; from n_detractor_accounts accounts
    n_detractor_accounts: int = 0
    n_at_risk: int = 0
    n_repeated_alerts: int = 0  # score alerts an earlier run of the data folder already sent (not listed again)
    missing: list[str] = field(default_factory=list)  # why a part could not be computed this run


def _records(df: pd.DataFrame, n: int) -> list[dict]:
    return df.head(n).to_dict("records")


def build_digest(run, *, run_date: str, top_n: int = 5, link: str | None = None) -> Digest:
    """The digest of a :class:`~engage_models.pipeline.Run`: up to ``top_n`` of each kind of alert and at risk."""
    d = Digest(run_date=run_date, lang=run.lang, currency=run.currency, link=link, where=f"{run_date}/index.html")
    if not run.has("actions"):
        d.missing.append(run.reason("actions", lang=run.lang))
        return d
    art = run["actions"]
    for section, attr, count in (("alerts", "score_alerts", "n_score_alerts"),
                                 ("detractor_alerts", "detractors", "n_detractors"),
                                 ("top_at_risk", "at_risk", "n_at_risk")):
        if art.has(section):
            df = art.frame(section)
            setattr(d, attr, _records(df, top_n))
            setattr(d, count, len(df))
            if section == "detractor_alerts" and "account_id" in df:
                d.n_detractor_accounts = int(df["account_id"].nunique())
            if section == "alerts" and df.attrs.get("previous"):
                d.since = pd.Timestamp(df.attrs["previous"])
        else:
            d.missing.append(art.reason(section, run.lang) or f"{section} not computed")
    if art.has("repeats"):
        d.n_repeated_alerts = int(art.json("repeats").get("alerts_repeated", 0))
    return d


# ------------------------------------------------------------------------------------------------ sections
def _name(row: dict, esc) -> str:
    return esc(row.get("name") or row.get("account_id") or "")


def _number(v) -> str:
    return f"{float(v):.0f}" if v is not None and not pd.isna(v) else "–"


def _sections(d: Digest, esc) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the message, user text escaped with ``esc``; the channel adds its formatting."""
    lang = check_lang(d.lang)
    since = fmt_date(d.since, lang) if d.since is not None else "–"
    alerts = [t("delivery.score_alert", lang, name=_name(a, esc), before=_number(a.get("previous_score")),
                after=_number(a.get("score")), change=f"{float(a.get('score_change') or 0):+.0f}",
                into_red=t("delivery.into_red", lang) if "into_red" in str(a.get("alert", "")) else "")
              for a in d.score_alerts]
    detractors = []
    for a in d.detractors:
        line = t("delivery.detractor", lang, name=_name(a, esc), score=_number(a.get("score")),
                 date=fmt_date(a.get("submitted_at"), lang))
        comment = _cut(_plain(a.get("comment")))
        detractors.append(line + (f" “{esc(comment)}”" if comment else ""))
    at_risk = [t("delivery.at_risk_line", lang, name=_name(a, esc),
                 mrr=fmt_money(a.get("mrr_at_risk") or 0.0, lang, d.currency),
                 p=f"{100 * float(a.get('churn_probability') or 0):.0f}%", play=esc(a.get("play_label") or "–"))
               for a in d.at_risk]
    out = []
    for heading, lines, total, repeated in (
            (t("delivery.score_alerts", lang, date=since), alerts, d.n_score_alerts, d.n_repeated_alerts),
            (t("delivery.detractors", lang), detractors, d.n_detractors, 0),
            (t("delivery.at_risk", lang), at_risk, d.n_at_risk, 0)):
        lines = lines or [t("delivery.none", lang)]
        if total > len(lines) and lines != [t("delivery.none", lang)]:
            lines = [*lines, t("delivery.more", lang, n=total - len(lines))]
        if repeated:  # counted, not silently lost: the alerts an earlier run sent and that are no worse now
            lines = [*lines, t("delivery.repeated", lang, n=repeated)]
        out.append((heading, lines))
    return out


def _head(d: Digest) -> tuple[str, str]:
    lang = d.lang
    title = t("delivery.title", lang, date=fmt_date(d.run_date, lang))
    summary = t("delivery.summary", lang, alerts=d.n_score_alerts, detractors=d.n_detractors,
                accounts=d.n_detractor_accounts)
    return title, summary


def _notes(d: Digest, esc) -> list[str]:
    return [t("delivery.not_computed", d.lang, reason=esc(m)) for m in d.missing]


# ------------------------------------------------------------------------------------------------ channels
def slack_payload(d: Digest) -> dict:
    """An incoming-webhook message for Slack (also Mattermost): mrkdwn text, link previews off."""
    title, summary = _head(d)
    parts = [f"*{title}*", summary, *_notes(d, escape_slack)]
    for heading, lines in _sections(d, escape_slack):
        parts += ["", f"*{heading}*", *(f"• {line}" for line in lines)]
    parts += ["", f"<{d.link}|{t('delivery.open_report', d.lang)}>" if d.link
              else t("delivery.report_at", d.lang, where=d.where)]
    return {"text": "\n".join(parts), "unfurl_links": False, "unfurl_media": False}


def teams_payload(d: Digest) -> dict:
    """A Teams message with an Adaptive Card, as a Teams Workflows webhook ("when a Teams webhook request is
    received") takes it."""
    title, summary = _head(d)
    body = [{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": summary, "wrap": True},
            *({"type": "TextBlock", "text": n, "wrap": True, "color": "Attention"} for n in _notes(d, escape_teams))]
    for heading, lines in _sections(d, escape_teams):
        body += [{"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": True, "spacing": "Medium"},
                 {"type": "TextBlock", "text": "\n\n".join(f"• {line}" for line in lines), "wrap": True}]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    if d.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": t("delivery.open_report", d.lang), "url": d.link}]
    else:
        body.append({"type": "TextBlock", "text": t("delivery.report_at", d.lang, where=d.where), "wrap": True})
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def mail_text(d: Digest) -> tuple[str, str]:
    """The mail's subject and plain-text body."""
    title, summary = _head(d)
    subject = t("delivery.subject", d.lang, date=fmt_date(d.run_date, d.lang), alerts=d.n_score_alerts)
    parts = [title, summary, *_notes(d, escape_mail)]
    for heading, lines in _sections(d, escape_mail):
        parts += ["", heading, *(f"  - {line}" for line in lines)]
    parts += ["", f"{t('delivery.open_report', d.lang)}: {d.link}" if d.link
              else t("delivery.report_at", d.lang, where=d.where)]
    return subject, "\n".join(parts) + "\n"
