"""The action list as files a CRM imports: CSV (UTF-8 with BOM, safe to open in a spreadsheet) and Parquet,
read back with the same types."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .._core.io import read_csv, write_csv, write_parquet
from .playbook import _NUMBER_EXPORT, _TEXT_EXPORT, EXPORT_COLUMNS

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- export
def export_actions(actions: pd.DataFrame, path: str | Path) -> dict[str, Path]:
    """Write the action list as ``<path>.csv`` and ``<path>.parquet`` (:data:`EXPORT_COLUMNS`, and ``model_id``
    when present).

    The CSV is UTF-8 with a byte-order mark (Excel then reads Japanese reasons correctly), ``as_of`` as
    ``YYYY-MM-DD``, codes (band, stage, touch model, play, owner) as stable identifiers for CRM pick lists and
    ``play_label`` / ``reason`` in the list's language. Text that a spreadsheet would run as a formula (an
    account id ``=HYPERLINK(...)``) is written with a leading single quote (:func:`engage_models._core.io.write_csv`).
    Read either back with :func:`read_actions`, which returns the values as they were.
    """
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".csv", ".parquet") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    missing = [c for c in EXPORT_COLUMNS if c not in actions.columns]
    if missing:
        raise ValueError(f"the action list lacks {missing}: build it with action_list()")
    out = actions[_columns(actions)].copy()
    out.attrs = {}
    csv = out.assign(as_of=pd.to_datetime(out["as_of"], utc=True).dt.strftime("%Y-%m-%d"))
    paths = {"csv": stem.with_name(stem.name + ".csv"), "parquet": stem.with_name(stem.name + ".parquet")}
    write_csv(csv, paths["csv"])
    write_parquet(out, paths["parquet"])
    log.info("wrote %d actions to %s and %s", len(out), paths["csv"], paths["parquet"])
    return paths


def read_actions(path: str | Path) -> pd.DataFrame:
    """An exported action list (``.csv`` or ``.parquet``) with the types it had: ``as_of`` as UTC timestamps,
    numbers as floats (empty = missing), text as text (empty = empty string)."""
    path = Path(path)
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = read_csv(path)
        for c in _NUMBER_EXPORT:
            df[c] = pd.to_numeric(df[c].where(df[c].ne("")), errors="raise").astype(float)
    else:
        raise ValueError(f"{path}: an action list is a .csv or .parquet file")
    missing = [c for c in EXPORT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not an action list (lacks {missing})")
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    for c in (*_TEXT_EXPORT, *[c for c in OPTIONAL_EXPORT if c in df.columns]):
        df[c] = df[c].fillna("").astype(str)
    return df[_columns(df)]


#: Columns exported when the action list has them: the id of the health model that scored it.
OPTIONAL_EXPORT = ("model_id",)


def _columns(df: pd.DataFrame) -> list[str]:
    return [*EXPORT_COLUMNS, *[c for c in OPTIONAL_EXPORT if c in df.columns]]




# ------------------------------------------------------------------------------------------- CRM imports
#: The files :func:`export_crm` writes, by CRM and object.
CRM_FILES = {"hubspot_companies": "hubspot_companies.csv", "hubspot_tasks": "hubspot_tasks.csv",
             "salesforce_accounts": "salesforce_accounts.csv", "salesforce_tasks": "salesforce_tasks.csv"}
#: Owner types whose plays become tasks for a person (marketing automation runs by itself: no task).
TASK_OWNERS = ("csm", "support", "executive_sponsor", "community_manager")
#: Days from the observation date to a task's due date, by band (a red account is called first).
DUE_DAYS = {"red": 2, "yellow": 7, "green": 14}
#: Task priorities by band, in each CRM's values.
HUBSPOT_PRIORITY = {"red": "HIGH", "yellow": "MEDIUM", "green": "LOW"}
SALESFORCE_PRIORITY = {"red": "High", "yellow": "Normal", "green": "Low"}
#: The custom property / field that carries our account id in each CRM (a unique value / an External ID):
#: companies and Accounts are matched on it, tasks are associated through it.
HUBSPOT_ID = "engage_account_id"
SALESFORCE_ID = "Engage_Account_ID__c"
#: The custom task property / field that carries each task's key (:func:`task_key`): the files insert tasks,
#: never update them (an update would overwrite the status a CSM set), so the key is for finding duplicates.
HUBSPOT_TASK_KEY = "engage_task_key"
SALESFORCE_TASK_KEY = "Engage_Task_Key__c"
#: Days within which an account and play that already got a task get no new one (``actions.task_repeat_days``).
TASK_REPEAT_DAYS = 28
#: Columns of :func:`crm_tasks`.
TASK_COLUMNS = ("account_id", "as_of", "play", "owner", "band", "task_key", "status", "exported_on")


def task_key(account_id, play, as_of) -> str:
    """A task's stable key: ``<account_id>:<play>:<YYYY-MM-DD>`` (the observation date the play was drawn on).
    A run again on the same date gives the same keys; the date is last, so a key reads back from the right."""
    return f"{account_id}:{play}:{pd.Timestamp(as_of):%Y-%m-%d}"


def crm_tasks(actions: pd.DataFrame, exported: pd.DataFrame | None = None, *,
              days: int = TASK_REPEAT_DAYS) -> pd.DataFrame:
    """The tasks of an action list, each ``new`` (written into the CRM files) or a ``repeat`` (left out).

    A task is made for each account whose play a person carries out (owner in :data:`TASK_OWNERS`) and that is
    not held out of it (any ``assignment`` other than ``held_out`` gets its task). It is a repeat when
    ``exported`` (earlier runs' tasks: ``as_of``, ``account_id``, ``play``, ``task_key``; see
    :func:`engage_models.actions.repeats.sent_before`) holds the same account and play from an observation
    date before this one and less than ``days`` days before it (0: never a repeat). A new play for the account
    is a new task; after ``days`` days the same play is a task again.

    Returns
    -------
    DataFrame
        :data:`TASK_COLUMNS`, in the list's order: ``task_key`` is the task's own key when new, the earlier
        task's (the one in the CRM) when a repeat, whose date ``exported_on`` gives.
    """
    held = actions["assignment"].eq("held_out") if "assignment" in actions else pd.Series(False, index=actions.index)
    rows = actions[actions["owner"].isin(TASK_OWNERS) & ~held]
    out = pd.DataFrame({"account_id": rows["account_id"].to_numpy(),
                        "as_of": pd.to_datetime(rows["as_of"], utc=True).to_numpy(),
                        "play": rows["play"].to_numpy(), "owner": rows["owner"].to_numpy(),
                        "band": rows["band"].to_numpy()})
    out["as_of"] = pd.to_datetime(out["as_of"], utc=True)
    out["task_key"] = [task_key(a, p, d) for a, p, d in zip(out["account_id"], out["play"], out["as_of"], strict=True)]
    out["status"] = "new"
    out["exported_on"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    if exported is not None and len(exported) and days > 0 and len(out):
        before = exported.rename(columns={"as_of": "exported_on", "task_key": "exported_key"})
        before = before.assign(exported_on=pd.to_datetime(before["exported_on"], utc=True))
        m = out[["account_id", "play", "as_of"]].reset_index().merge(
            before[["account_id", "play", "exported_on", "exported_key"]], on=["account_id", "play"])
        age = (m["as_of"] - m["exported_on"]) / pd.Timedelta(days=1)
        m = m[(m["exported_on"] < m["as_of"]) & (age < days)]
        latest = m.sort_values("exported_on", kind="stable").groupby("index").tail(1).set_index("index")
        out.loc[latest.index, "status"] = "repeat"
        out.loc[latest.index, "exported_on"] = latest["exported_on"]
        out.loc[latest.index, "task_key"] = latest["exported_key"].astype(str)
    return out[list(TASK_COLUMNS)]


def _task_text(row, model_id: str, lang: str) -> tuple[str, str]:
    from .._core.i18n import fmt_date, t

    name = " ".join(str(row["name"] or row["account_id"]).split())  # a subject is one line: a name's line breaks
    subject = t("crm.task_subject", lang, play=row["play_label"], name=name)[:255]  # Salesforce's Subject limit
    body = t("crm.task_body", lang, reason=row["reason"], score=f"{row['score']:.0f}", band=t(row["band"], lang),
             p=f"{100 * row['churn_probability']:.0f}", model=model_id, as_of=fmt_date(row["as_of"], lang))
    return subject, body


def export_crm(actions: pd.DataFrame, folder: str | Path, *, model_id: str, lang: str = "en",
               names: pd.DataFrame | None = None, tasks: pd.DataFrame | None = None) -> dict[str, Path]:
    """The action list as the import files of HubSpot and Salesforce, one file per CRM object.

    ========================  =====================================================================================
    file                      columns (the CRM's documented names)
    ========================  =====================================================================================
    hubspot_companies.csv     ``engage_account_id`` (a custom company property with unique values: companies are
                              matched on it), ``name`` (Company name), and custom properties ``engage_health_score``,
                              ``engage_health_band``, ``engage_churn_probability``, ``engage_lifecycle_stage``,
                              ``engage_touch_model``, ``engage_next_play``, ``engage_play_reason``,
                              ``engage_health_model``, ``engage_scored_on``
    hubspot_tasks.csv         ``hs_task_subject``, ``hs_task_body``, ``hs_timestamp`` (due date), ``hs_task_status``
                              (NOT_STARTED), ``hs_task_priority`` (HIGH/MEDIUM/LOW), ``hs_task_type`` (TODO),
                              ``engage_task_key`` (a custom task property: :func:`task_key`), and
                              ``engage_account_id`` to associate each task with its company (a two-object import)
    salesforce_accounts.csv   ``Engage_Account_ID__c`` (an External ID field: upsert on it), ``Name``, and custom
                              fields ``Health_Score__c``, ``Health_Band__c``, ``Churn_Probability__c``,
                              ``Lifecycle_Stage__c``, ``Touch_Model__c``, ``Next_Play__c``, ``Play_Reason__c``,
                              ``Health_Model__c``, ``Health_Scored_On__c``
    salesforce_tasks.csv      ``Subject``, ``Description``, ``ActivityDate`` (due date), ``Status`` (Not Started),
                              ``Priority`` (High/Normal/Low), ``Engage_Task_Key__c`` (a custom task field:
                              :func:`task_key`), ``Account:What.Engage_Account_ID__c`` (the Bulk API's
                              header for a polymorphic lookup by External ID: the task's Related To account)
    ========================  =====================================================================================

    Every account gets its company / Account row; a task is written for the plays a person carries out (owner
    in :data:`TASK_OWNERS`) except those held out at random (``assignment`` held_out: no task, no next play)
    and those ``tasks`` (:func:`crm_tasks`; default: every task new) marks as repeats of a task an earlier run
    exported, due :data:`DUE_DAYS` after the observation date by band. Text (play, reason, task
    subject and body) is in ``lang``, the team's language; ``model_id`` (the health model's artifact key) goes into
    the company / Account rows and every task's body, so a record in the CRM says which model scored it.
    All files go through :func:`engage_models._core.io.write_csv`: UTF-8 with a byte-order mark, formula-safe.

    Parameters
    ----------
    actions : DataFrame
        The action list (:func:`~engage_models.actions.action_list`).
    folder : path
        Where the four files are written.
    names : DataFrame, optional
        ``account_id`` and ``name`` (the accounts' names: the action list has ids only).
    tasks : DataFrame, optional
        :func:`crm_tasks` of ``actions``: only its ``new`` tasks are written, with their keys (the company /
        Account rows are written for every account all the same: they update fields, they add nothing).
    """
    folder = Path(folder)
    missing = [c for c in EXPORT_COLUMNS if c not in actions.columns and c != "assignment"]
    if missing:
        raise ValueError(f"the action list lacks {missing}: build it with action_list()")
    df = actions.copy()
    df.attrs = {}
    # an account held out of its play at random (actions.holdout) gets neither the task nor the play shown
    held = df["assignment"].eq("held_out") if "assignment" in df else pd.Series(False, index=df.index)
    df["play_label"] = df["play_label"].where(~held, "")
    if names is not None and "name" in names:
        df = df.drop(columns="name", errors="ignore").merge(names[["account_id", "name"]].drop_duplicates("account_id"),
                                                           on="account_id", how="left")
    if "name" not in df:
        df["name"] = ""
    df["name"] = df["name"].fillna("").astype(str)
    as_of = pd.to_datetime(df["as_of"], utc=True)
    df["as_of_text"] = as_of.dt.strftime("%Y-%m-%d")
    due = (as_of + pd.to_timedelta(df["band"].map(DUE_DAYS).fillna(7), unit="D")).dt.strftime("%Y-%m-%d")
    score, p = df["score"].round(1), df["churn_probability"].round(4)
    hubspot = pd.DataFrame({
        HUBSPOT_ID: df["account_id"], "name": df["name"], "engage_health_score": score,
        "engage_health_band": df["band"], "engage_churn_probability": p, "engage_lifecycle_stage": df["stage"],
        "engage_touch_model": df["touch_model"], "engage_next_play": df["play_label"],
        "engage_play_reason": df["reason"], "engage_health_model": model_id, "engage_scored_on": df["as_of_text"]})
    salesforce = pd.DataFrame({
        SALESFORCE_ID: df["account_id"], "Name": df["name"].where(df["name"] != "", df["account_id"]),
        "Health_Score__c": score, "Health_Band__c": df["band"], "Churn_Probability__c": p,
        "Lifecycle_Stage__c": df["stage"], "Touch_Model__c": df["touch_model"], "Next_Play__c": df["play_label"],
        "Play_Reason__c": df["reason"], "Health_Model__c": model_id, "Health_Scored_On__c": df["as_of_text"]})
    if tasks is None:
        tasks = crm_tasks(actions)
    new = tasks[tasks["status"] == "new"].drop_duplicates("account_id").set_index("account_id")["task_key"]
    todo = df[df["owner"].isin(TASK_OWNERS) & ~held & df["account_id"].isin(new.index)]
    keys = todo["account_id"].map(new).to_list()
    texts = [_task_text(row, model_id, lang) for _, row in todo.iterrows()]
    subjects = [s for s, _ in texts]
    bodies = [b for _, b in texts]
    hubspot_tasks = pd.DataFrame({
        "hs_task_subject": subjects, "hs_task_body": bodies, "hs_timestamp": due[todo.index].to_list(),
        "hs_task_status": "NOT_STARTED", "hs_task_priority": todo["band"].map(HUBSPOT_PRIORITY).to_list(),
        "hs_task_type": "TODO", HUBSPOT_TASK_KEY: keys, HUBSPOT_ID: todo["account_id"].to_list()})
    salesforce_tasks = pd.DataFrame({
        "Subject": subjects, "Description": bodies, "ActivityDate": due[todo.index].to_list(),
        "Status": "Not Started", "Priority": todo["band"].map(SALESFORCE_PRIORITY).to_list(),
        SALESFORCE_TASK_KEY: keys, f"Account:What.{SALESFORCE_ID}": todo["account_id"].to_list()})
    frames = {"hubspot_companies": hubspot, "hubspot_tasks": hubspot_tasks, "salesforce_accounts": salesforce,
              "salesforce_tasks": salesforce_tasks}
    paths = {k: write_csv(frames[k], folder / f) for k, f in CRM_FILES.items()}
    log.info("wrote CRM import files for %d accounts and %d tasks into %s (%d repeated tasks left out)", len(df),
             len(todo), folder, int((tasks["status"] == "repeat").sum()))
    return paths
