"""Alerts where people work: the messages (language, escaping), a local webhook server and a local SMTP server
started by the tests, and the runner publishing and saying so when a delivery fails."""

from __future__ import annotations

import email
import json
import shutil
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from engage_models._core.errors import ConfigError
from engage_models._core.i18n import count
from engage_models.delivery import (
    Digest,
    deliver,
    escape_slack,
    escape_teams,
    mail_text,
    post_webhook,
    slack_payload,
    teams_payload,
)
from engage_models.delivery.channels import DeliveryError
from engage_models.pipeline import DeliveryConfig, RunConfig
from pg_server import free_port

#: A survey comment that tries everything a chat or mail client could act on.
NASTY = ("<!channel> @here call me <script>alert(1)</script> [urgent](https://evil.example/x) *bold* & "
         "<https://evil.example|click>\nFAKE HEADER")
WEBHOOK_SECRET = "T000/B000/xoxb-very-secret-token"
SMTP_PASSWORD = "smtp-pw-8f3k"


def _digest(lang: str = "en", link: str | None = "https://reports.example.com/2025-06-02/index.html") -> Digest:
    return Digest(
        run_date="2025-06-02", lang=lang, currency="USD", since=pd.Timestamp("2025-05-01", tz="UTC"), link=link,
        where="2025-06-02/index.html",
        score_alerts=[{"account_id": "A1", "name": "Acme <b>Corp</b>", "previous_score": 72.4, "score": 48.6,
                       "score_change": -23.8, "alert": "score_drop;into_red"},
                      {"account_id": "A2", "name": None, "previous_score": 60.0, "score": 45.0,
                       "score_change": -15.0, "alert": "score_drop"}],
        detractors=[{"account_id": "A3", "name": "Globex", "score": 2.0,
                     "submitted_at": pd.Timestamp("2025-05-28", tz="UTC"), "comment": NASTY}],
        at_risk=[{"account_id": "A1", "name": "Acme <b>Corp</b>", "mrr_at_risk": 1234.5, "churn_probability": 0.31,
                  "play_label": "Executive call"}],
        n_score_alerts=7, n_detractors=1, n_detractor_accounts=1, n_at_risk=1)


def test_the_summary_counts_detractor_answers_and_their_accounts():
    """A chat alert said "168 detractor(s) at high-touch accounts": 168 answers of 25 accounts."""
    from engage_models.delivery.messages import _head

    d = _digest()
    d.n_detractors, d.n_detractor_accounts = 168, 25
    assert _head(d)[1] == "7 score alerts, 168 detractor answers from 25 high-touch accounts"
    d.lang = "ja"
    assert _head(d)[1] == "スコアアラート 7件・ハイタッチ顧客25社の批判者の回答 168件"
    d.lang, d.n_score_alerts, d.n_detractors, d.n_detractor_accounts = "en", 1, 1, 1  # not "1 score alert(s)"
    assert _head(d)[1] == "1 score alert, 1 detractor answer from 1 high-touch account"


# --------------------------------------------------------------------------------------------- messages
def test_slack_message_escapes_everything_a_comment_could_trigger():
    payload = slack_payload(_digest())
    text = payload["text"]
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "@here" not in text and "@\u2060here" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<https://evil.example|click>" not in text and "&lt;https://evil.example|click&gt;" in text
    assert "\nFAKE HEADER" not in text and " FAKE HEADER" in text  # the comment stays on its line
    assert "Acme &lt;b&gt;Corp&lt;/b&gt;" in text  # names are user text too
    # our own markup is intact: the only < in the message is the report link
    assert text.count("<") == 1 and "<https://reports.example.com/2025-06-02/index.html|Open the report>" in text
    assert "*Score alerts since 1 May 2025*" in text
    assert "score 72 → 49 (-24 points), moved into red" in text
    assert "A2: score 60 → 45 (-15 points)\n" in text  # no name: the id
    assert "… and 5 more in the report" in text  # 7 alerts, 2 listed
    assert "$1,234" in text and "31%" in text and "NPS 2 on 28 May 2025" in text


def test_teams_card_escapes_markdown_and_links_the_report():
    payload = teams_payload(_digest())
    assert payload["type"] == "message"
    att = payload["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report",
                                "url": "https://reports.example.com/2025-06-02/index.html"}]
    texts = "\n".join(b["text"] for b in card["body"])
    assert "[urgent](https://evil.example/x)" not in texts
    assert "\\[urgent\\]\\(https://evil.example/x\\)" in texts
    assert "\\*bold\\*" in texts and "\\<script\\>" in texts and "@\u2060here" in texts
    assert "Acme \\<b\\>Corp\\</b\\>" in texts


def test_mail_text_is_plain_and_in_the_reports_language():
    subject, body = mail_text(_digest("ja"))
    assert subject == "[engage] 顧客ヘルス 2025年6月2日：アラート 7件"
    assert "2025年5月1日以降のスコアアラート" in body and "危険区分へ移行" in body
    assert "今週の要注意顧客" in body and "ハイタッチ顧客の批判者" in body
    assert "レポートを開く: https://reports.example.com/2025-06-02/index.html" in body
    assert "\nFAKE HEADER" not in body  # one line per item
    subject, body = mail_text(_digest("en", link=None))
    assert "Report: 2025-06-02/index.html" in body


@pytest.mark.parametrize("text, slack, teams", [
    ("a & b", "a &amp; b", "a & b"),
    ("<@U123> hi", "&lt;@\u2060U123&gt; hi", "\\<@\u2060U123\\> hi"),
    ("mail me at x@example.com", "mail me at x@\u2060example.com", "mail me at x@\u2060example.com"),
    ("   two\n\nlines  ", "two lines", "two lines"),
    (None, "", ""),
])
def test_escaping_rules(text, slack, teams):
    assert escape_slack(text) == slack and escape_teams(text) == teams


# ---------------------------------------------------------------------------------------- local servers
class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the http.server name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    """A local incoming-webhook server (http.server in a thread): ``.received`` holds the requests, ``.status``
    is what it answers, ``.url`` its address with a secret path like a real webhook's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received, server.status = [], 200
    server.url = f"http://127.0.0.1:{server.server_address[1]}/services/{WEBHOOK_SECRET}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp():
    """A local SMTP server (aiosmtpd in a thread) that takes user ``bot`` with :data:`SMTP_PASSWORD`."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Handler:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            self.messages.append(envelope)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
            (b"bot", SMTP_PASSWORD.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    controller.messages = handler.messages
    yield controller
    controller.stop()


def _config(webhook_port=None, smtp_port=None, **more) -> DeliveryConfig:
    d = {}
    if webhook_port is not None:
        d.update(webhook_url_env="TEST_WEBHOOK_URL")
    if smtp_port is not None:
        d.update(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none", smtp_user="bot",
                 smtp_password_env="TEST_SMTP_PASSWORD", mail_from="engage@example.com",
                 mail_to=["csm@example.com", "lead@example.com"])
    d.update(more)
    return RunConfig.from_dict({"delivery": d}).delivery


def test_the_webhook_and_the_mail_arrive_with_their_payloads(webhook, smtp, monkeypatch):
    monkeypatch.setenv("TEST_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    results = deliver(_digest("ja"), _config(webhook_port=1, smtp_port=smtp.port))
    assert [(r.channel, r.status, r.error) for r in results] == [("webhook", "sent", None), ("mail", "sent", None)]
    (req,) = webhook.received
    assert req["path"] == f"/services/{WEBHOOK_SECRET}"
    assert req["headers"]["Content-Type"] == "application/json; charset=utf-8"
    payload = json.loads(req["body"].decode("utf-8"))
    assert payload == slack_payload(_digest("ja"))  # what the renderer made is what arrived
    assert "顧客ヘルス 2025年6月2日" in payload["text"] and "&lt;!channel&gt;" in payload["text"]
    (envelope,) = smtp.messages
    assert envelope.mail_from == "engage@example.com"
    assert envelope.rcpt_tos == ["csm@example.com", "lead@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == "[engage] 顧客ヘルス 2025年6月2日：アラート 7件"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == mail_text(_digest("ja"))[1]
    text = json.dumps([r.as_dict() for r in results])
    assert WEBHOOK_SECRET not in text and SMTP_PASSWORD not in text
    assert "$TEST_WEBHOOK_URL" in results[0].target


def test_teams_format_posts_the_adaptive_card(webhook, monkeypatch):
    monkeypatch.setenv("TEST_WEBHOOK_URL", webhook.url)
    (result,) = deliver(_digest(), _config(webhook_port=1, webhook_format="teams"))
    assert result.status == "sent" and result.target == "Teams webhook ($TEST_WEBHOOK_URL)"
    assert json.loads(webhook.received[0]["body"]) == teams_payload(_digest())


def test_refused_recipients_are_counted_in_the_singular_and_the_plural(monkeypatch):
    """It said "the server refused 1 recipient(s): a@x.example"."""
    from engage_models.delivery import channels

    class Server:
        refused: dict = {}

        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, msg):
            return Server.refused

    monkeypatch.setattr(channels.smtplib, "SMTP", Server)
    mail = dict(host="127.0.0.1", port=25, security="none", sender="bot@x.example", subject="s", text="t",
                to=("a@x.example", "b@x.example", "c@x.example"))
    for refused, said in ((["b@x.example"], "1 recipient: b@x.example"),
                          (["c@x.example", "a@x.example"], "2 recipients: a@x.example, c@x.example")):
        Server.refused = {r: (550, b"no such user") for r in refused}
        with pytest.raises(DeliveryError, match=rf"^the server refused {said}$"):
            channels.send_mail(**mail)


def test_failures_are_results_with_reasons_and_no_secrets(webhook, smtp, monkeypatch, caplog):
    webhook.status = 500
    monkeypatch.setenv("TEST_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-" + SMTP_PASSWORD)
    results = deliver(_digest(), _config(webhook_port=1, smtp_port=smtp.port))
    assert [r.status for r in results] == ["failed", "failed"]
    assert results[0].error.startswith("HTTP 500")
    assert "refused the login of bot (535)" in results[1].error
    closed = f"http://127.0.0.1:{free_port()}/services/{WEBHOOK_SECRET}"  # nothing listens there
    monkeypatch.setenv("TEST_WEBHOOK_URL", closed)
    (down,) = deliver(_digest(), _config(webhook_port=1))
    assert down.status == "failed" and "cannot reach 127.0.0.1" in down.error and "refused" in down.error
    monkeypatch.delenv("TEST_WEBHOOK_URL")
    (unset,) = deliver(_digest(), _config(webhook_port=1))
    assert unset.error == "$TEST_WEBHOOK_URL is set neither in the environment nor in an env_file"
    everything = json.dumps([r.as_dict() for r in [*results, down, unset]]) + caplog.text
    assert WEBHOOK_SECRET not in everything and SMTP_PASSWORD not in everything


def test_secrets_come_from_the_env_file_when_the_environment_lacks_them(webhook, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_WEBHOOK_URL", raising=False)
    (tmp_path / "delivery.env").write_text(f"TEST_WEBHOOK_URL={webhook.url}\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text("delivery:\n  webhook_url_env: TEST_WEBHOOK_URL\n  env_file: delivery.env\n",
                                       encoding="utf-8")
    cfg = RunConfig.load(tmp_path / "run.yaml").delivery
    assert cfg.env_file == str(tmp_path / "delivery.env")  # next to the configuration file
    (result,) = deliver(_digest(), cfg)
    assert result.status == "sent" and len(webhook.received) == 1


def test_a_webhook_over_plain_http_to_another_machine_is_refused():
    with pytest.raises(DeliveryError, match="https://"):
        post_webhook("http://hooks.example.com/services/x", {"text": "hi"})


@pytest.mark.parametrize("section, words", [
    ({"webhook_url_env": "https://hooks.slack.com/services/T/B/" + WEBHOOK_SECRET}, "NAME of an environment variable"),
    ({"webhook_url_env": "X", "webhook_format": "discord"}, "'slack' or 'teams'"),
    ({"smtp_host": "mail.example.com", "mail_to": ["a@example.com"]}, "mail_from and delivery.mail_to"),
    ({"smtp_host": "h", "mail_from": "x@example.com", "mail_to": "not-an-address"}, "not a mail address"),
    ({"mail_to": ["a@example.com"]}, "no delivery.smtp_host"),
    ({"webhook_url_env": "X", "report_url": "reports.example.com"}, "http(s) address"),
    ({"webhook_url_env": "X", "env_file": "relative.env"}, "absolute path"),
])
def test_a_bad_delivery_section_is_refused_before_any_work(section, words):
    with pytest.raises(ConfigError, match="delivery") as err:
        RunConfig.from_dict({"delivery": section})
    assert words in str(err.value) and WEBHOOK_SECRET not in str(err.value)


# ---------------------------------------------------------------------------------------------- the runner
def _actions_notebook(folder: Path, needs: str = "actions") -> Path:
    """A report that renders nothing but needs the pipeline up to the actions stage (the deliveries' input)."""
    folder.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("run_dir = None  # set by the runner", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_markdown_cell("# Actions"), nbformat.v4.new_code_cell("print('rendered')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["engage"] = {"needs": [needs]}
    nbformat.write(nb, folder / "01_actions.ipynb")
    return folder


@pytest.mark.notebook
@pytest.mark.slow  # the pipeline up to the actions stage on the report world (shared with the report tests)
def test_the_runner_delivers_after_publishing_and_a_dead_webhook_only_sets_exit_code_3(report_data, webhook, smtp,
                                                                                      tmp_path, monkeypatch):
    from conftest import REPORT_RUN_DATE
    from engage_models.reports.runner import run

    nbs = _actions_notebook(tmp_path / "nbs")
    monkeypatch.setenv("TEST_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    cfg = RunConfig.from_dict({"data_dir": str(report_data), "delivery": {
        "webhook_url_env": "TEST_WEBHOOK_URL", "report_url": "https://reports.example.com/cs", "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port, "smtp_security": "none", "smtp_user": "bot", "smtp_password_env": "TEST_SMTP_PASSWORD",
        "mail_from": "engage@example.com", "mail_to": ["csm@example.com"]}})
    out = tmp_path / "reports"
    result = run(run_config=cfg, out_dir=out, notebooks_dir=nbs, run_date=REPORT_RUN_DATE, progress=lambda m: None)
    assert [d["status"] for d in result.delivery] == ["sent", "sent"] and not result.delivery_failed
    payload = json.loads(webhook.received[0]["body"])
    assert f"<https://reports.example.com/cs/{REPORT_RUN_DATE}/index.html|Open the report>" in payload["text"]
    published = json.loads((out / REPORT_RUN_DATE / "run.json").read_text(encoding="utf-8"))
    alerts = pd.read_parquet(out / REPORT_RUN_DATE / "artifacts" / "actions" / "alerts.parquet")
    assert f"{len(alerts)} score alert" in payload["text"]  # the digest counts what the run found
    detractors = pd.read_parquet(out / REPORT_RUN_DATE / "artifacts" / "actions" / "detractor_alerts.parquet")
    assert (f"{count(len(detractors), 'detractor answer')} from "
            f"{count(detractors['account_id'].nunique(), 'high-touch account')}" in payload["text"])
    assert [d["status"] for d in published["delivery"]] == ["sent", "sent"]
    assert len(smtp.messages) == 1
    for name in ("hubspot_companies.csv", "hubspot_tasks.csv", "salesforce_accounts.csv", "salesforce_tasks.csv"):
        assert name in published["files"] and (out / REPORT_RUN_DATE / name).is_file()

    # the webhook is down: the reports publish all the same, the run says the delivery failed, exit code 3
    monkeypatch.setenv("TEST_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/services/{WEBHOOK_SECRET}")
    result = run(run_config=cfg, out_dir=out, notebooks_dir=nbs, run_date=REPORT_RUN_DATE, progress=lambda m: None)
    assert result.exit_code == 3 and result.delivery_failed
    assert [d["status"] for d in result.delivery] == ["failed", "sent"]
    assert (out / REPORT_RUN_DATE / "01_actions.html").is_file()
    for folder in (out / REPORT_RUN_DATE, out / "latest"):
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        assert record["delivery"][0]["status"] == "failed" and "delivery failed" in record["status"]
        page = (folder / "index.html").read_text(encoding="utf-8")
        assert "Slack webhook ($TEST_WEBHOOK_URL): not delivered (cannot reach 127.0.0.1" in page
    assert "not delivered" in (out / "index.html").read_text(encoding="utf-8")
    everything = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*")
                           if p.suffix in (".json", ".html", ".csv"))
    assert WEBHOOK_SECRET not in everything and SMTP_PASSWORD not in everything


@pytest.mark.notebook
def test_a_run_that_stops_before_the_actions_stage_sends_nothing(small_world, webhook, tmp_path, monkeypatch):
    from engage_models.reports.runner import run

    nbs = _actions_notebook(tmp_path / "nbs", needs="ingest")
    monkeypatch.setenv("TEST_WEBHOOK_URL", webhook.url)
    shutil.copytree(small_world / "raw", tmp_path / "data" / "raw")
    cfg = RunConfig.from_dict({"data_dir": str(tmp_path / "data"), "delivery": {"webhook_url_env": "TEST_WEBHOOK_URL"}})
    said = []
    result = run(run_config=cfg, out_dir=tmp_path / "reports", notebooks_dir=nbs, run_date="2025-01-02",
                 progress=said.append)
    assert result.delivery == [] and webhook.received == [] and result.exit_code == 0
    assert any("delivery: not sent" in m for m in said)
