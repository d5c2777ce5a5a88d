"""Alerts where people work: after a run, its score alerts, the detractors at high-touch accounts and the week's
top accounts at risk go to an incoming webhook (Slack or Teams) and/or by mail, in the report's language, with the
link to the report.

:mod:`~.messages` builds the digest and renders it per channel (user text escaped for each);
:mod:`~.channels` sends it and reports per channel whether it went. Configured in the run configuration's
``delivery`` section (:class:`~engage_models.pipeline.config.DeliveryConfig`); the report runner calls
:func:`deliver_run` after publishing, so a failed delivery never costs a report: it is logged, recorded in
``run.json`` and on the index page, and the run's exit code is 3.
"""

from .channels import DeliveryError, DeliveryResult, deliver, post_webhook, send_mail
from .messages import Digest, build_digest, escape_slack, escape_teams, mail_text, slack_payload, teams_payload

__all__ = ["DeliveryError", "DeliveryResult", "Digest", "build_digest", "deliver", "deliver_run", "escape_slack",
           "escape_teams", "mail_text", "post_webhook", "send_mail", "slack_payload", "teams_payload"]


def deliver_run(run, config, *, run_date: str, environ=None) -> list[DeliveryResult]:
    """Send the digest of ``run`` (a :class:`~engage_models.pipeline.Run`) as ``config`` (its ``delivery`` section)
    says; the link is ``<report_url>/<run_date>/index.html`` when ``report_url`` is set."""
    if not config.enabled:
        return []
    link = f"{config.report_url.rstrip('/')}/{run_date}/index.html" if config.report_url else None
    digest = build_digest(run, run_date=run_date, top_n=config.top_n, link=link)
    return deliver(digest, config, environ)
