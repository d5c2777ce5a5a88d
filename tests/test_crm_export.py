"""CRM-ready exports (HubSpot and Salesforce import files) and the detractor alert, on hand-built action lists."""

from __future__ import annotations

import pandas as pd
import pytest

from engage_models._core.io import read_csv
from engage_models.actions import EXPORT_COLUMNS, detractor_alerts, export_crm
from engage_models.actions.export import CRM_FILES

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")


def _plan(lang_reason: str = "Few seats in use") -> pd.DataFrame:
    rows = [
        # account, score, band, p, stage, touch, play, label, owner
        ("A1", 31.04, "red", 0.4213, "at_risk", "high_touch", "exec_call", "Executive call", "executive_sponsor"),
        ("A2", 55.0, "yellow", 0.12, "adoption", "tech_touch", "training", "Training session", "marketing_automation"),
        ("=HYPERLINK(\"http://x\")", 88.0, "green", 0.02, "mature", "low_touch", "qbr", "Quarterly review", "csm"),
    ]
    df = pd.DataFrame(rows, columns=["account_id", "score", "band", "churn_probability", "stage", "touch_model",
                                     "play", "play_label", "owner"])
    df["as_of"] = AS_OF
    df["ltv"] = [1000.0, None, 5000.0]
    df["driver"] = ""
    df["reason"] = [lang_reason, "Low activity", "-all good"]
    df["assignment"] = "assigned"  # none held out of its play (see test_holdout for those)
    return df[list(EXPORT_COLUMNS)]


NAMES = pd.DataFrame({"account_id": ["A1", "A2"], "name": ["Acme", "@Globex"]})


def test_hubspot_and_salesforce_files_have_the_documented_columns(tmp_path):
    paths = export_crm(_plan(), tmp_path, model_id="abc123", names=NAMES)
    assert {k: p.name for k, p in paths.items()} == CRM_FILES
    files = {k: read_csv(p) for k, p in paths.items()}
    assert list(files["hubspot_companies"].columns) == [
        "engage_account_id", "name", "engage_health_score", "engage_health_band", "engage_churn_probability",
        "engage_lifecycle_stage", "engage_touch_model", "engage_next_play", "engage_play_reason",
        "engage_health_model", "engage_scored_on"]
    assert list(files["hubspot_tasks"].columns) == ["hs_task_subject", "hs_task_body", "hs_timestamp", "hs_task_status",
                                                    "hs_task_priority", "hs_task_type", "engage_task_key",
                                                    "engage_account_id"]
    assert list(files["salesforce_accounts"].columns) == [
        "Engage_Account_ID__c", "Name", "Health_Score__c", "Health_Band__c", "Churn_Probability__c",
        "Lifecycle_Stage__c", "Touch_Model__c", "Next_Play__c", "Play_Reason__c", "Health_Model__c",
        "Health_Scored_On__c"]
    assert list(files["salesforce_tasks"].columns) == ["Subject", "Description", "ActivityDate", "Status", "Priority",
                                                       "Engage_Task_Key__c", "Account:What.Engage_Account_ID__c"]
    companies = files["hubspot_companies"]
    assert companies["engage_account_id"].tolist() == ["A1", "A2", "=HYPERLINK(\"http://x\")"]  # every account
    assert companies["name"].tolist() == ["Acme", "@Globex", ""]
    assert companies["engage_health_score"].tolist() == ["31.0", "55.0", "88.0"]
    assert companies["engage_churn_probability"].tolist() == ["0.4213", "0.12", "0.02"]
    assert set(companies["engage_health_model"]) == {"abc123"}
    assert set(companies["engage_scored_on"]) == {"2025-06-01"}
    sf = files["salesforce_accounts"]
    assert sf["Name"].tolist() == ["Acme", "@Globex", "=HYPERLINK(\"http://x\")"]  # Name is required: the id
    assert set(sf["Health_Model__c"]) == {"abc123"}


def test_tasks_for_the_plays_a_person_carries_out_due_by_band(tmp_path):
    files = {k: read_csv(p) for k, p in export_crm(_plan(), tmp_path, model_id="abc123", names=NAMES).items()}
    hs, sf = files["hubspot_tasks"], files["salesforce_tasks"]
    # A2's play is run by marketing automation: no task
    assert hs["engage_account_id"].tolist() == ["A1", "=HYPERLINK(\"http://x\")"]
    assert sf["Account:What.Engage_Account_ID__c"].tolist() == ["A1", "=HYPERLINK(\"http://x\")"]
    assert hs["hs_timestamp"].tolist() == ["2025-06-03", "2025-06-15"]  # red: 2 days, green: 14 days
    assert sf["ActivityDate"].tolist() == ["2025-06-03", "2025-06-15"]
    assert hs["hs_task_priority"].tolist() == ["HIGH", "LOW"] and sf["Priority"].tolist() == ["High", "Low"]
    assert set(hs["hs_task_status"]) == {"NOT_STARTED"} and set(hs["hs_task_type"]) == {"TODO"}
    assert set(sf["Status"]) == {"Not Started"}
    assert hs["hs_task_subject"].tolist() == ["Executive call: Acme", "Quarterly review: =HYPERLINK(\"http://x\")"]
    # each task's key: account, play and the observation date it was drawn on, the same in both CRMs
    assert hs["engage_task_key"].tolist() == ["A1:exec_call:2025-06-01", "=HYPERLINK(\"http://x\"):qbr:2025-06-01"]
    assert sf["Engage_Task_Key__c"].tolist() == hs["engage_task_key"].tolist()
    assert sf["Description"].iloc[0] == ("Few seats in use. Health score 31 (red), churn probability 42% on "
                                         "1 Jun 2025; health model abc123.")


def test_crm_files_are_formula_safe_and_in_the_teams_language(tmp_path):
    paths = export_crm(_plan("シートの利用が少ない"), tmp_path, model_id="m1", lang="ja", names=NAMES)
    raw = paths["hubspot_companies"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark: Excel reads the Japanese
    text = raw.decode("utf-8-sig")
    assert "\n\"'=HYPERLINK" in text.replace("\r\n", "\n") and "'@Globex" in text and "'-all good" in text
    body = read_csv(paths["salesforce_tasks"])["Description"].iloc[0]
    assert body == "シートの利用が少ない。2025年6月1日時点のヘルススコア 31（危険）、解約確率 42%。ヘルスモデル m1。"
    assert read_csv(paths["hubspot_tasks"])["hs_task_subject"].iloc[0] == "Executive call：Acme"


def test_a_numeric_account_id_with_a_sign_is_the_crm_key_as_it_is(tmp_path):
    """An id such as ``-1042`` (a system that numbers test accounts below zero) was written ``'-1042`` by the
    formula guard, so the upsert on it matched no record; a signed number is no formula and keeps its text."""
    plan = _plan().assign(account_id=["-1042", "+7", "=HYPERLINK(\"http://x\")"])
    paths = export_crm(plan, tmp_path, model_id="m1")
    raw = paths["hubspot_companies"].read_bytes().decode("utf-8-sig").replace("\r\n", "\n").split("\n")
    assert [line.split(",")[0] for line in raw[1:3]] == ["-1042", "+7"] and raw[3].startswith("\"'=HYPERLINK")
    assert read_csv(paths["salesforce_accounts"])["Engage_Account_ID__c"].tolist() == plan["account_id"].tolist()
    assert read_csv(paths["hubspot_tasks"])["engage_task_key"].iloc[0] == "-1042:exec_call:2025-06-01"


def test_an_action_list_without_its_columns_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        export_crm(_plan().drop(columns="reason"), tmp_path, model_id="m")


def test_detractor_alerts_keep_high_touch_answers_of_0_to_6_in_the_window():
    answers = pd.DataFrame({
        "response_id": ["R1", "R2", "R3", "R4", "R5", "R6"],
        "account_id": ["A1", "A1", "A1", "A2", "A1", "A1"],
        "submitted_at": pd.to_datetime(["2025-05-10", "2025-05-20", "2025-04-30", "2025-05-15", "2025-06-02",
                                        "2025-05-31"], utc=True),
        "survey_type": ["nps", "nps", "nps", "nps", "nps", "csat"],
        "score": [6.0, 7.0, 0.0, 1.0, 2.0, 1.0],
        "comment": ["too slow", "ok", "old", "tech touch", "after", "csat"]})
    plan = pd.DataFrame({"account_id": ["A1", "A2"], "touch_model": ["high_touch", "tech_touch"],
                         "name": ["Acme", "Globex"], "band": ["red", "green"], "mrr": [900.0, 50.0]})
    got = detractor_alerts(answers, plan, since="2025-05-01", until="2025-06-01")
    # R1: 6 is a detractor; R2: 7 is passive; R3 and R5 are outside the window; R4 is tech-touch; R6 is CSAT
    assert got["response_id"].tolist() == ["R1"]
    assert got.iloc[0][["name", "band", "mrr", "comment"]].tolist() == ["Acme", "red", 900.0, "too slow"]
    assert got.attrs["since"] == pd.Timestamp("2025-05-01", tz="UTC")


def test_a_task_subject_is_one_line_whatever_the_company_name_holds(tmp_path):
    """A company named "Acme, Inc.\\r\\nLine2" put a line break into the HubSpot and Salesforce task Subject (a
    one-line field; the chat messages already joined lines). The name's own line, in the company file, is kept."""
    names = pd.DataFrame({"account_id": ["A1", "A2"], "name": ["Acme, Inc.\r\nLine2", "Globex\n"]})
    paths = export_crm(_plan(), tmp_path, model_id="m1", names=names)
    subjects = read_csv(paths["salesforce_tasks"])["Subject"].tolist()
    assert subjects[0].endswith("Acme, Inc. Line2") and not any("\n" in s or "\r" in s for s in subjects)
    assert read_csv(paths["hubspot_tasks"])["hs_task_subject"].iloc[0] == subjects[0]
