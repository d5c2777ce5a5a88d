"""The personas stage in the pipeline: the registry is part of its key, health is optional, and the reasons of
the sections it leaves out are written in every report language."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from edge_worlds import make_world
from engage_models import pipeline
from engage_models._core.i18n import t
from engage_models.journeys.reasons import Thin, Why, text
from engage_models.journeys.stage import registry_digest, registry_path
from engage_models.pipeline import RunConfig
from engage_models.pipeline import stages as S

RUN_DATE = "2030-01-01"
FAST = {"health": {"n_bootstrap": 3, "metric_bootstrap": 20}, "personas": {"n_bootstrap": 3, "k_max": 4}}


@pytest.fixture(scope="module")
def no_churn(tmp_path_factory):
    """100 accounts over 12 months of which none churns: the health score cannot be learned (no outcome)."""
    return make_world(tmp_path_factory.mktemp("no-churn"), "no_churn", 100, 12, 11)


def _config(root, **personas):
    return RunConfig.from_dict({"data_dir": str(root), "run_date": RUN_DATE,
                                **FAST, "personas": {**FAST["personas"], **personas}})


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.name != "manifest.json"}


def test_without_a_health_score_personas_and_journeys_are_still_computed(no_churn):
    run = pipeline.run(_config(no_churn), until="personas", progress=lambda m: None)
    assert run.records["health"].status == "failed"
    assert run.records["personas"].status == "computed"
    art = run["personas"]
    assert art.has("persona_table") and art.has("personas") and art.has("touches")
    # user personas: every user of a customer at the latest date counted once, in a persona or inactive
    users = art.json("user_personas")
    mix = art.frame("user_persona_mix")
    table = art.frame("user_persona_table")
    assert users["k"] == len(table) and table["users"].sum() == users["users"]
    assert mix.loc[mix["user_persona"] != "inactive", "users"].sum() == users["users"]
    assert mix.loc[mix["user_persona"] == "inactive", "users"].sum() == users["inactive"]
    latest = run.panel.query("as_of == as_of.max()")["account_id"]
    assert set(mix["account_id"]) <= set(latest)
    by = art.frame("user_persona_by_account_persona")
    assert by.groupby("persona")["share"].sum().round(9).eq(1).all()
    # the sections that need scores say why, in both languages
    why = {s.section: s.reason for s in art.skipped}
    assert why["stage_flow"].startswith("no health scores: the health stage was not computed (")
    assert art.reason("stage_paths", "ja").startswith("ヘルススコアがありません（")
    assert art.reason("stage_paths", "en") == why["stage_paths"]
    assert not art.has("reasons")  # the manifest keeps them in every language: no second copy
    # the world records no device: the device table is left out with its reason, not shown as "unknown 100%"
    assert not art.has("device_mix") and why["device_mix"] == "no product event of the last 90 days records a device"
    assert art.reason("device_mix", "ja") == "直近90日間の製品利用イベントにデバイスの記録がありません"
    # data the company does not record: said, not counted as a section the run missed
    assert {s["section"] for s in run.skipped_sections} >= {"device_mix"}
    assert "device_mix" not in {s["section"] for s in run.missing_sections}


def test_an_edited_registry_reruns_the_stage_and_the_same_registry_gives_the_same_run(no_churn, tmp_path):
    config = _config(no_churn, registry=str(tmp_path / "registry.json"))
    path = registry_path(config)
    quiet = {"progress": lambda m: None}
    first = pipeline.run(config, until="personas", **quiet)
    assert first.records["personas"].status == "computed" and path.is_file()
    # the names the run wrote for itself are not a new input: the next run reads the stage back
    second = pipeline.run(config, until="personas", **quiet)
    assert second.records["personas"].status == "reused" and second["personas"].key == first["personas"].key
    # an edit of the names' file by hand makes a new key
    data = json.loads(path.read_text(encoding="utf-8"))
    before = _digest_of(path.read_bytes(), tmp_path)
    data["personas"][sorted(data["personas"])[0]]["description"] = "edited by hand"
    path.write_text(json.dumps(data), encoding="utf-8")
    edited_bytes = path.read_bytes()
    assert registry_digest(config) == _digest_of(edited_bytes, tmp_path) != before
    edited = pipeline.run(config, until="personas", **quiet)
    assert edited.records["personas"].status == "computed" and edited["personas"].key != first["personas"].key
    assert (edited["personas"].frame("persona_table")["status"] == "kept").all()  # it read the names
    # ... after which, nothing changed, it is read back
    assert pipeline.run(config, until="personas", **quiet).records["personas"].status == "reused"
    # the same registry again (the edited file): the same key, and computed afresh (its cache removed) the
    # same files
    path.write_bytes(edited_bytes)
    shutil.copytree(edited["personas"].path, tmp_path / "edited")
    shutil.rmtree(edited["personas"].path)
    again = pipeline.run(config, until="personas", **quiet)
    assert again.records["personas"].status == "computed" and again["personas"].key == edited["personas"].key
    assert _digests(tmp_path / "edited") == _digests(again["personas"].path)


def _digest_of(content: bytes, tmp_path) -> str:
    from engage_models.journeys.personas import PersonaRegistry

    p = tmp_path / "copy.json"
    p.write_bytes(content)
    return PersonaRegistry.digest_of(p)


def test_the_log_of_runs_is_not_part_of_the_key_and_the_stages_own_writes_stand_for_what_it_read(tmp_path):
    path = tmp_path / "registry.json"
    config = RunConfig.from_dict({"data_dir": str(tmp_path), "personas": {"registry": str(path)}})
    assert registry_digest(config) is None
    body = {"version": 1, "personas": {"1": {"centroid": {"a": 1.0}, "first_seen": "2025-01-01"}}}
    path.write_text(json.dumps({**body, "runs": [{"as_of": "2025-01-01"}]}), encoding="utf-8")
    d1 = registry_digest(config)
    path.write_text(json.dumps({**body, "runs": [{"as_of": "2025-01-01"}, {"as_of": "2025-02-01"}]}),
                    encoding="utf-8")
    assert registry_digest(config) == d1
    body["personas"]["1"]["centroid"]["a"] = 1.5
    path.write_text(json.dumps(body), encoding="utf-8")
    assert registry_digest(config) != d1
    assert S.stage("personas").params(config)["registry_digest"] == registry_digest(config)
    # sealed by the stage: the registry it left stands for the one it read (here d1's content) ...
    from engage_models.journeys.stage import seal_registry

    d2 = registry_digest(config)
    seal_registry(config, d1)
    assert registry_digest(config) == d1
    # ... until someone edits it
    data = json.loads(path.read_text(encoding="utf-8"))
    data["personas"]["1"]["description"] = "mine"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert registry_digest(config) not in (d1, d2, None)
    assert "health" in S.stage("personas").uses and "health" not in S.stage("personas").needs


def test_reasons_are_kept_in_every_language(tmp_path):
    from engage_models.pipeline.store import Output

    out = Output(tmp_path, "personas")
    for name in ("a", "b"):
        out.skip(name, Thin("pj.why.few_accounts", n=12, days=90, need=30))
    out.skip("c", Why("pj.why.first_value", name="first_export", reason=Why("pj.why.never_reached")))
    out.skip("d", "a library said no")
    why = {s.section: s.why for s in out.skipped}
    assert why["a"].all() == why["b"].all() == {
        "en": "12 accounts with at least 90 days of tenure at the fitting dates; personas need 30",
        "ja": "適合日に契約期間90日以上の顧客が12社しかありません（ペルソナには30社必要）"}
    assert text(why["c"], "ja") == "初回価値（first_export）：データ中で到達した顧客がいません"
    assert why["c"] == "first value (first_export): no account reached it in the data"
    assert text(why["d"], "ja") == t("reason.other", "ja", reason="a library said no")
    assert text("plain", "en") == "plain"


@pytest.mark.notebook
@pytest.mark.slow  # renders report 07 in Japanese (about 30 s)
def test_report_07_in_japanese_says_why_in_japanese_and_shows_the_user_personas(no_churn, tmp_path):
    from engage_models.reports.runner import run

    config = _config(no_churn).replace(lang="ja")
    paths = run(data_dir=no_churn, out_dir=tmp_path / "reports", only=["07"], run_config=config, run_date=RUN_DATE,
                progress=lambda m: None)
    assert paths.failed == []
    body = paths[0].read_text(encoding="utf-8")
    body = body[body.index("<body"):]
    assert "Traceback" not in body
    assert "ユーザーペルソナ1" in body and "ユーザー数の多い顧客の構成" in body
    # the lifecycle paths need health scores: the reason is the Japanese one, and no English reason is shown
    # the health stage's own reason, in Japanese too (it was marked as English detail)
    assert "計算できませんでした（理由：ヘルススコアがありません（「ヘルススコア」は計算されませんでした（解約した" \
        in body
    assert "Not computed" not in body and "no health scores" not in body


def test_a_large_company_fits_personas_on_a_sample_of_accounts_and_assigns_every_account(no_churn, tmp_path):
    from engage_models.journeys.views import header

    root = tmp_path / "world"
    shutil.copytree(no_churn, root, ignore=shutil.ignore_patterns("artifacts"))
    run = pipeline.run(_config(root, max_fit_accounts=40, users=False), until="personas", progress=lambda m: None)
    art = run["personas"]
    info = art.json("personas")
    assert info["fit_accounts"] == 40 and info["eligible_accounts"] > 40
    assign = art.frame("persona_assignments")
    assert len(assign) == len(run.panel) and assign["persona"].notna().all()  # every account, every date
    assert assign["persona"].nunique() == info["k"]
    assert f"random sample of the {info['eligible_accounts']:,} eligible" in header(info, "en")
    assert "無作為に抽出" in header(info, "ja")
    full = pipeline.run(_config(root, users=False), until="personas", progress=lambda m: None)
    assert "random sample" not in header(full["personas"].json("personas"), "en")
