"""Personas and journeys on small hand-built tables whose right answers are counted by hand.

The simulator recovery tests (planted personas and milestones) are in ``test_journeys_world.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engage_models._core.errors import ConfigError, InsufficientData
from engage_models._core.time import DAYS_PER_MONTH
from engage_models.journeys import channels as CH
from engage_models.journeys import flows as FL
from engage_models.journeys import milestones as MS
from engage_models.journeys import personas as PS
from engage_models.journeys import stage as ST
from engage_models.journeys import views as V

UTC = "UTC"


def _ts(s):
    return pd.Timestamp(s, tz=UTC)


# ------------------------------------------------------------------------------------------ landmark
#: Churn day of each account profile (None: still a customer at the observation date).
CHURN_DAYS = (10, 20, 45, 60, 90, 120, 200, 300, 400, None)
DATA_START, AS_OF = _ts("2023-01-01"), _ts("2025-01-01")


def _immortal_time_world(replicates: int = 10):
    """A milestone that does nothing, and a naive comparison that says it halves churn.

    Every churn profile comes ``replicates`` times (so that 10 accounts are still at risk where the curves are
    read): account ``A`` reaches the milestone on day 5, account ``B`` on day 100 if
    it is still a customer then (else never). The milestone changes nothing (A and B leave on the same day),
    but the accounts that left before day 100 can only be among the "never reached".
    """
    rows, times = [], []
    for r in range(replicates):
        for j, churn in enumerate(CHURN_DAYS):
            end = DATA_START + pd.Timedelta(days=churn) if churn is not None else pd.NaT
            for kind, reach in (("A", 5), ("B", 100)):
                aid = f"{kind}{r}_{j}"
                rows.append({"account_id": aid, "start_date": DATA_START, "end_date": end})
                if churn is None or reach < churn:
                    times.append({"account_id": aid, "milestone": "m",
                                  "reached_at": DATA_START + pd.Timedelta(days=reach)})
    accounts = MS.observed_accounts(pd.DataFrame(rows), DATA_START, AS_OF)
    return accounts, pd.DataFrame(times)


def test_the_landmark_removes_the_immortal_time_bias_the_naive_comparison_shows():
    accounts, times = _immortal_time_world()
    at = 1.5  # months (45.7 days): where each curve still has 10 accounts at risk
    naive = MS.naive_frame(times, accounts, "m")
    # naive: "never reached" holds exactly the B accounts that left by day 100 (days 10, 20, 45, 60, 90)
    assert (naive["group"] == "not_reached").sum() == 50
    row, _ = MS.compare(naive, at)
    # by 1.5 months: of the never reached, the profiles leaving on days 60 and 90 are left (2 of 5); of the
    # reached (10 A profiles, 5 B profiles from day 120 on), all but those leaving on days 10, 20, 45 (12 of 15)
    assert row["not_reached_survival"] == pytest.approx(2 / 5)
    assert row["reached_survival"] == pytest.approx(12 / 15)
    assert row["difference"] == pytest.approx(0.4) and row["p_value"] < 0.001
    # landmark at 30 days: the accounts still customers then (8 profiles each), A reached it by then, B not
    lm = MS.landmark_frame(times, accounts, "m", 30, AS_OF)
    assert lm["group"].value_counts().to_dict() == {"reached": 80, "not_reached": 80}
    assert not lm["account_id"].str.endswith(("_0", "_1")).any()  # those that left on days 10 and 20 are out
    assert lm["entry"].eq(30 / DAYS_PER_MONTH).all()  # followed from the landmark, in months of tenure
    row, _ = MS.compare(lm, at)
    assert row["reached_survival"] == pytest.approx(7 / 8) and row["not_reached_survival"] == pytest.approx(7 / 8)
    assert row["difference"] == pytest.approx(0.0, abs=1e-12) and row["p_value"] == pytest.approx(1.0)
    table, kms, skipped = MS.landmark_analysis(times, accounts, [MS.Milestone("m", "events")], 30, AS_OF, at)
    assert skipped == {} and set(kms) == {"m"}
    r = table.iloc[0]
    assert r["difference"] == pytest.approx(0.0, abs=1e-12) and r["naive_difference"] == pytest.approx(0.4)
    assert (r["reached"], r["accounts"]) == (80, 160) and r["share_low"] < 0.5 < r["share_high"]
    # the naive comparison's thin group is named as the naive group it is (report 07 called the never reached
    # "had not reached it by the landmark", beside a milestone table counting the landmark's own group)
    with pytest.raises(InsufficientData) as caught:
        MS.fit_naive(times, accounts, "m", min_group=60)
    assert "never reached it" in str(caught.value) and "landmark" not in str(caught.value)
    assert MS.fit_naive(times, accounts, "m").labels_ == MS.fit_groups(naive).labels_ == ["reached", "not_reached"]


def test_a_milestone_too_rare_to_compare_is_left_out_with_the_reason():
    accounts, times = _immortal_time_world(replicates=1)  # 8 accounts per landmark group: fewer than 10
    table, kms, skipped = MS.landmark_analysis(times, accounts, [MS.Milestone("m", "events")], 30, AS_OF, 1.5)
    assert table.empty and kms == {}
    assert "8 accounts" in skipped["m"] and "at least 10" in skipped["m"]


def test_landmark_leaves_out_accounts_started_less_than_the_landmark_before_the_observation_date():
    accounts = MS.observed_accounts(pd.DataFrame({
        "account_id": ["old", "young", "before_data"],
        "start_date": [_ts("2024-01-01"), _ts("2024-12-20"), _ts("2022-06-01")],
        "end_date": [pd.NaT, pd.NaT, pd.NaT]}), DATA_START, AS_OF)
    assert list(accounts["account_id"]) == ["old", "young"]  # the third started before the data begin
    lm = MS.landmark_frame(pd.DataFrame(columns=["account_id", "milestone", "reached_at"]), accounts, "m", 30, AS_OF)
    assert list(lm["account_id"]) == ["old"] and list(lm["group"]) == ["not_reached"]


def test_time_to_value_counts_accounts_old_enough_to_have_had_the_chance():
    accounts = MS.observed_accounts(pd.DataFrame({
        "account_id": ["a", "b", "c", "d"],
        "start_date": [_ts("2024-01-01"), _ts("2024-06-01"), _ts("2024-12-10"), _ts("2024-03-01")],
        "end_date": [pd.NaT, pd.NaT, pd.NaT, _ts("2024-03-05")]}), DATA_START, AS_OF)
    times = pd.DataFrame({"account_id": ["a", "b", "c"], "milestone": "v",
                          "reached_at": [_ts("2024-01-04"), _ts("2024-06-21"), _ts("2024-12-11")]})
    ttv = MS.time_to_value(times, accounts, "v", AS_OF, within=(7, 30))
    # within 7 days: a (3 days) and c (1 day) among a, b, c, d (all started 7+ days ago); d left first
    assert ttv[["within_days", "accounts", "reached"]].values.tolist() == [[7, 4, 2], [30, 3, 2]]
    assert ttv.attrs["median_days"] == 3.0 and ttv.attrs["reached"] == 3


# ------------------------------------------------------------------------------------------ milestone registry
def _processed(tmp_path):
    """events and tickets of three accounts, as ingest writes them."""
    p = tmp_path / "processed"
    p.mkdir()
    ev = pd.DataFrame({
        "account_id": ["a", "a", "a", "b", "b", "c"],
        "user_id": ["u1", "u1", "u2", "u3", "u3", "u4"],
        "timestamp": pd.to_datetime(["2024-01-03", "2024-01-05", "2024-01-09", "2024-02-02", "2024-02-10",
                                     "2025-03-01"], utc=True),
        "event_type": ["login", "feature_use", "feature_use", "login", "feature_use", "feature_use"],
        "feature": [None, "reports", "Sharing", None, "sharing", "sharing"],
    })
    ev.to_parquet(p / "events.parquet", index=False)
    pd.DataFrame({"account_id": ["b"], "opened_at": pd.to_datetime(["2024-02-20"], utc=True)}).to_parquet(
        p / "tickets.parquet", index=False)
    return p


def test_a_milestone_of_your_own_from_a_yaml_file_is_computed_like_the_built_in_ones(tmp_path):
    processed = _processed(tmp_path)
    f = tmp_path / "milestones.yaml"
    f.write_text("milestones:\n  - name: first_share\n    source: events\n"
                 "    match: {event_type: feature_use, feature: sharing}\n"
                 "    label: {en: first dashboard shared, ja: 初めての共有}\n"
                 "  - name: first_sso\n    source: events\n    match: {sso_provider: okta}\n", encoding="utf-8")
    declared = MS.registry(milestones_file=f)
    names = [m.name for m in declared]
    assert names[: len(MS.MILESTONES)] == [m.name for m in MS.MILESTONES] and names[-2:] == ["first_share", "first_sso"]
    share = declared[-2]
    assert share.text("ja") == "初めての共有"
    times, skipped = MS.milestone_times(processed, declared, until=_ts("2025-01-01"))
    got = times[times["milestone"] == "first_share"].set_index("account_id")["reached_at"]
    # values compared case-insensitively; c's use after `until` does not count
    assert got.to_dict() == {"a": _ts("2024-01-09"), "b": _ts("2024-02-10")}
    assert times[times["milestone"] == "first_login"].set_index("account_id")["reached_at"].to_dict() == {
        "a": _ts("2024-01-03"), "b": _ts("2024-02-02")}
    assert times[times["milestone"] == "first_ticket"]["account_id"].tolist() == ["b"]
    assert skipped["first_sso"] == "the events table has no column sso_provider"
    assert skipped["first_community_post"] == "no touchpoints table"
    assert skipped["first_export"] == "no account reached it in the data"


def test_a_source_no_account_reached_adds_no_empty_frame(tmp_path):
    """A touchpoints table with no rows (the thin world ``no_touchpoints``) made pandas warn that concatenating an
    empty frame is deprecated and will change the result's types: the reached milestones come out as before,
    with no warning."""
    import warnings

    processed = _processed(tmp_path)
    pd.DataFrame({"account_id": pd.Series(dtype=str), "timestamp": pd.Series(dtype="datetime64[us, UTC]"),
                  "channel": pd.Series(dtype=str), "touch_type": pd.Series(dtype=str),
                  "attended": pd.Series(dtype=bool)}).to_parquet(processed / "touchpoints.parquet", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        times, skipped = MS.milestone_times(processed, MS.registry(), until=_ts("2025-01-01"))
    assert times[times["milestone"] == "first_login"]["account_id"].tolist() == ["a", "b"]
    assert str(times["reached_at"].dtype) == "datetime64[ns, UTC]"
    assert skipped["first_community_post"] == "no account reached it in the data"


def test_per_feature_milestones_expand_to_one_per_key_feature(tmp_path):
    processed = _processed(tmp_path)
    assert MS.key_features(processed, n=2, until=_ts("2025-01-01")) == ["sharing", "reports"]  # 2 accounts, 1
    ms = MS.expand(MS.registry(), ["sharing", "reports"])
    names = [m.name for m in ms]
    assert "first_use" not in names and {"first_use_sharing", "first_use_reports"} <= set(names)
    times, _ = MS.milestone_times(processed, [m for m in ms if m.name.startswith("first_use_")], _ts("2025-01-01"))
    assert times.groupby("milestone")["account_id"].apply(list).to_dict() == {
        "first_use_reports": ["a"], "first_use_sharing": ["a", "b"]}
    with pytest.raises(ConfigError, match="per='device' is not supported"):
        MS.expand([MS.Milestone("x", "events", per="device")], ["sharing"])


@pytest.mark.parametrize("text, message", [
    ("milestones:\n  - name: x\n    source: crm\n", r"milestones\[0\] \(x\): source must be one of"),
    ("milestones:\n  - {source: events}\n", r"milestones\[0\]: each milestone needs a name"),
    ("milestones:\n  - name: x\n    source: events\n    when: 3\n", r"\(x\): unknown key when \(a milestone has"),
    ("milestones:\n  - name: x\n    source: events\n    when: 3\n    if: 4\n", r"\(x\): unknown keys if, when \("),
    ("- just a list\n", "expected a list under 'milestones:'"),
])
def test_a_bad_milestones_file_names_the_file_and_the_entry(tmp_path, text, message):
    f = tmp_path / "mine.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as exc:
        MS.load_milestones(f)
    assert "mine.yaml" in str(exc.value)


# ------------------------------------------------------------------------------------------ persona names
def _blobs(sizes, centres, seed):
    rng = np.random.default_rng(seed)
    parts = [pd.DataFrame({"a": rng.normal(cx, 0.3, n), "b": rng.normal(cy, 0.3, n), "blob": i})
             for i, (n, (cx, cy)) in enumerate(zip(sizes, centres, strict=True))]
    return pd.concat(parts, ignore_index=True).sample(frac=1, random_state=seed).reset_index(drop=True)


CENTRES = [(0, 0), (4, 0), (0, 4)]


def _names(model, matches, frame):
    """blob -> persona number of the fit (the blob's most common cluster)."""
    number = dict(zip(matches["cluster"], matches["persona"], strict=True))
    persona = pd.Series(model.labels_).map(number)
    return persona.groupby(frame["blob"]).agg(lambda s: s.mode()[0]).to_dict()


def test_persona_names_stay_the_same_across_runs_through_the_registry(tmp_path):
    path = tmp_path / "registry.json"
    first = _blobs([90, 60, 30], CENTRES, seed=1)
    m1 = PS.PersonaModel(metrics=["a", "b"], k_range=(2, 4), n_bootstrap=5, random_state=0).fit(first)
    assert m1.n_personas_ == 3
    reg = PS.PersonaRegistry(path)
    matches = reg.match(m1, np.bincount(m1.labels_))
    assert (matches["status"] == "new").all()
    assert _names(m1, matches, first) == {0: 1, 1: 2, 2: 3}  # a first run numbers them by size, largest first
    reg.update(m1, matches, "2024-06-01")
    # next run: other accounts, other sizes, another row order and seed; k-means numbers its clusters otherwise
    second = _blobs([40, 70, 50], CENTRES, seed=2)
    m2 = PS.PersonaModel(metrics=["a", "b"], k_range=(2, 4), n_bootstrap=5, random_state=9).fit(second)
    reg2 = PS.PersonaRegistry(path)  # read back from the file
    matches2 = reg2.match(m2, np.bincount(m2.labels_))
    assert (matches2["status"] == "kept").all() and matches2["distance"].lt(0.5).all()
    assert _names(m2, matches2, second) == {0: 1, 1: 2, 2: 3}
    reg2.update(m2, matches2, "2024-07-01")
    # a run in which a new kind of customer appears: it gets the next free number, the others keep theirs
    third = _blobs([40, 70, 50, 60], [*CENTRES, (4, 4)], seed=3)
    m3 = PS.PersonaModel(metrics=["a", "b"], k_range=(4, 4), n_bootstrap=0, random_state=3).fit(third)
    reg3 = PS.PersonaRegistry(path)
    matches3 = reg3.match(m3, np.bincount(m3.labels_))
    assert _names(m3, matches3, third) == {0: 1, 1: 2, 2: 3, 3: 4}
    assert sorted(matches3["status"]) == ["kept", "kept", "kept", "new"]
    assert len(reg3.runs) == 2 and reg3.personas["1"]["first_seen"].startswith("2024-06-01")


def test_the_previous_runs_number_of_personas_is_kept_within_noise(tmp_path):
    """A weekly run said 2, 4, 2, 3 personas: the previous number stays while stable and within ``keep_within``
    of the best silhouette; beyond it, or unstable, the best is taken."""
    from engage_models.journeys import views as JV

    frame = _blobs([60, 60, 60, 40], [*CENTRES, (2.2, 2.2)], seed=5)
    free = PS.PersonaModel(metrics=["a", "b"], k_range=(2, 5), n_bootstrap=4).fit(frame)
    sel = free.selection_.set_index("k")
    stable = sel[sel["stability"] >= 0.8].sort_values("silhouette", ascending=False)
    best, second = int(stable.index[0]), int(stable.index[1])
    gap = stable["silhouette"].iloc[0] - stable["silhouette"].iloc[1]
    assert free.n_personas_ == best and free.best_k_ is None and 0 < gap < 0.5
    kept = PS.PersonaModel(metrics=["a", "b"], k_range=(2, 5), n_bootstrap=4, previous_k=second,
                           keep_within=gap + 0.001).fit(frame)
    assert (kept.n_personas_, kept.best_k_, kept.criterion_) == (second, best, "previous number kept")
    assert kept.selection_.set_index("k")["chosen"][second] and len(np.unique(kept.labels_)) == second
    for changed in ({"keep_within": gap - 0.001}, {"keep_within": 0.0}, {"min_stability": 1.01}):
        args = {"previous_k": second, "keep_within": gap + 0.001, **changed}
        other = PS.PersonaModel(metrics=["a", "b"], k_range=(2, 5), n_bootstrap=4, **args).fit(frame)
        assert other.n_personas_ != second or other.criterion_ == "most stable", changed
        assert other.best_k_ is None
    info = {"k": second, "best_k": best, "keep_k_within": 0.02, "fit_accounts": 100, "fit_dates": [1],
            "min_tenure_days": 90, "min_stability": 0.8, "switching": {}}
    assert f"The best silhouette was with {best} personas" in JV.header(info, "en")
    assert f"前回の{second}つを維持" in JV.header(info, "ja")
    # the registry gives the number of the latest run before the date (a backfill: the run before it)
    reg = PS.PersonaRegistry(tmp_path / "r.json")
    reg.runs = [{"as_of": "2025-01-01T00:00:00+00:00", "personas": {"1": "new", "2": "new"}},
                {"as_of": "2025-02-01T00:00:00+00:00", "personas": {"1": "kept", "2": "kept", "3": "new"}}]
    assert (reg.previous_k("2025-03-01"), reg.previous_k("2025-02-01"), reg.previous_k("2025-01-01")) == (3, 2, None)


def test_a_backfill_records_the_past_and_changes_nothing_of_the_present(tmp_path):
    """A fit for a date before the registry's latest (a backfill) gets the registered names; a persona it finds
    that the registry lacks is registered (seen then only), so the next run does not give its number to another
    persona; registered ones were first seen no later than then; later centroids, sightings and words stay."""
    path = tmp_path / "registry.json"
    m1 = PS.PersonaModel(metrics=["a", "b"], k_range=(3, 3), n_bootstrap=0, random_state=0).fit(
        _blobs([90, 60, 30], CENTRES, seed=1))
    reg = PS.PersonaRegistry(path)
    assert reg.update(m1, reg.match(m1, np.bincount(m1.labels_)), "2024-07-01", {1: "july words"}) == "latest"
    july = {k: dict(v) for k, v in PS.PersonaRegistry(path).personas.items()}
    old = _blobs([40, 70, 50, 60], [*CENTRES, (4, 4)], seed=3)  # June had a fourth kind of customer
    m0 = PS.PersonaModel(metrics=["a", "b"], k_range=(4, 4), n_bootstrap=0, random_state=3).fit(old)
    back = PS.PersonaRegistry(path)
    matches = back.match(m0, np.bincount(m0.labels_))
    assert _names(m0, matches, old) == {0: 1, 1: 2, 2: 3, 3: 4}  # named as registered, the new one numbered
    assert back.update(m0, matches, "2024-06-01", {1: "june words"}) == "backfill"
    after = PS.PersonaRegistry(path)
    assert sorted(after.personas) == ["1", "2", "3", "4"]
    for k in ("1", "2", "3"):  # the present unchanged, the first sighting moved back
        assert after.personas[k]["centroid"] == july[k]["centroid"]
        assert after.personas[k]["last_seen"] == july[k]["last_seen"] and after.personas[k]["first_seen"].startswith(
            "2024-06-01")
    assert after.personas["1"]["description"] == "july words"
    assert after.personas["4"]["first_seen"] == after.personas["4"]["last_seen"] and after.personas["4"][
        "first_seen"].startswith("2024-06-01")
    assert after.latest_seen() == pd.Timestamp("2024-07-01", tz="UTC")
    # August: another new kind of customer takes the next number, not the backfill's 4
    aug = _blobs([40, 70, 50, 60], [*CENTRES, (-4, 4)], seed=4)
    m2 = PS.PersonaModel(metrics=["a", "b"], k_range=(4, 4), n_bootstrap=0, random_state=3).fit(aug)
    numbered = after.match(m2, np.bincount(m2.labels_)).set_index("persona")["status"]
    assert 4 not in numbered.index and numbered[numbered == "new"].index.min() >= 5, numbered
    # a run of the same date under another time zone (hours apart) is not a backfill
    again = PS.PersonaRegistry(path)
    assert again.update(m1, again.match(m1, np.bincount(m1.labels_)), "2024-06-30T15:00:00+00:00") == "latest"


def test_the_number_of_personas_is_chosen_by_silhouette_among_stable_solutions():
    frame = _blobs([60, 60, 60], CENTRES, seed=4)
    model = PS.PersonaModel(metrics=["a", "b"], k_range=(2, 5), n_bootstrap=8).fit(frame)
    sel = model.selection_.set_index("k")
    assert list(sel.index) == [2, 3, 4, 5] and sel["chosen"].sum() == 1 and model.n_personas_ == 3
    assert sel.loc[3, "stability"] > 0.95 and sel.loc[3, "silhouette"] == sel["silhouette"].max()
    assert model.criterion_ == "silhouette among stable"
    # centroids come back in the metrics' own units
    got = model.centroids_.round(0).abs().sort_values(["a", "b"]).to_numpy().tolist()
    assert got == [[0.0, 0.0], [0.0, 4.0], [4.0, 0.0]]
    with pytest.raises(InsufficientData, match="3 rows cannot be split"):
        PS.PersonaModel(metrics=["a", "b"], k_range=(3, 4)).fit(frame.head(3))


def test_a_persona_is_described_by_what_sets_it_apart():
    frame = pd.DataFrame({"seats": [100.0] * 10 + [10.0] * 30, "active_user_ratio_90d": [0.1] * 10 + [0.7] * 30,
                          "tickets_90d": [1.0, 2.0] * 20})
    persona = pd.Series([1] * 10 + [2] * 30)
    prof = PS.profile(frame, persona, ["seats", "active_user_ratio_90d", "tickets_90d"])
    d = PS.distinctive(prof, 1)
    assert {(x["metric"], x["direction"]) for x in d} == {("seats", "high"), ("active_user_ratio_90d", "low")}
    assert len(d) == 2  # tickets are the same in both personas: not what sets persona 1 apart
    assert set(PS.words(d, "en").split(", ")) == {"many seats", "few of the seats in use"}
    assert set(PS.words(d, "ja").split("、")) == {"席数が多い", "利用されている席が少ない"}
    assert PS.words([], "en") == "close to the typical account"
    # a measure without words of its own is named by its label
    assert PS.words([{"metric": "logins_90d", "direction": "high", "z": 1.0}], "en") == \
        "high " + PS.metric_label("logins_90d", "en")


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_persona_without_a_value_of_a_metric_has_no_median_of_it_and_no_warning():
    """A thin world without touchpoints: one persona's accounts had no value of a metric, and its median asked
    numpy for the mean of an empty slice (a RuntimeWarning, an error in the personas stage under -W error)."""
    frame = pd.DataFrame({"seats": [100.0] * 10 + [10.0] * 30,
                          "nps_latest": [np.nan] * 10 + [8.0, 6.0, 9.0] * 10})
    prof = PS.profile(frame, pd.Series([1] * 10 + [2] * 30), ["seats", "nps_latest"]).set_index(["persona", "metric"])
    assert np.isnan(prof.loc[(1, "nps_latest"), "median"]) and np.isnan(prof.loc[(1, "nps_latest"), "z"])
    assert prof.loc[(2, "nps_latest"), "median"] == 8.0 and prof.loc[(1, "nps_latest"), "overall_median"] == 8.0
    assert prof.loc[(1, "seats"), "median"] == 100.0


# ------------------------------------------------------------------------------------------ moves, growth
def _assign():
    d0, d1 = _ts("2024-09-01"), _ts("2024-12-01")
    return pd.DataFrame({
        "account_id": ["a", "b", "c", "d", "a", "b", "c", "e", "f"],
        "as_of": [d0] * 4 + [d1] * 5,
        "persona": [1, 1, 2, 2, 1, 2, 2, 2, 2],
    }), d0, d1


def test_moves_between_personas_are_counted_with_arrivals_and_departures():
    assign, d0, d1 = _assign()
    mv = ST.moves(assign, d0, d1).set_index(["from", "to"])["accounts"].to_dict()
    assert mv == {("1", "1"): 1, ("1", "2"): 1, ("2", "2"): 1, ("2", "left"): 1, ("new", "2"): 2}
    rate = ST.switching_rate(assign)
    assert (rate["changed"], rate["pairs"]) == (1, 3)  # b moved; a and c stayed; d, e, f seen once
    g = ST.growth(ST.pd.DataFrame({"as_of": [d0, d0, d1, d1], "persona": [1, 2, 1, 2], "accounts": [2, 2, 1, 4],
                                   "share": [0.5, 0.5, 0.2, 0.8]}), d0, d1, {2: {"en": "x", "ja": "y"}})
    assert g["top"]["persona"] == 2 and g["top"]["change_pp"] == pytest.approx(30.0)
    assert g["top"]["description_en"] == "x"


def test_fit_dates_are_quarterly_snapshots_of_the_last_year():
    dates = pd.date_range("2023-01-01", "2025-01-01", freq="MS", tz=UTC)
    got = ST.fit_dates(dates, 12)
    assert [d.strftime("%Y-%m") for d in got] == ["2024-04", "2024-07", "2024-10", "2025-01"]
    assert ST.comparison_date(dates, 3) == _ts("2024-10-01")


# ------------------------------------------------------------------------------------------ stage flows
def test_lifecycle_paths_and_transitions_are_counted_and_drawn():
    d = [_ts("2024-10-01"), _ts("2024-11-01"), _ts("2024-12-01")]
    stages = pd.DataFrame({
        "account_id": ["A1", "A2", "A3", "A4", "A1", "A2", "A3", "A4", "A5", "A1", "A2", "A5"],
        "as_of": [d[0]] * 4 + [d[1]] * 5 + [d[2]] * 3,
        "stage": ["adoption", "adoption", "adoption", "onboarding", "mature", "mature", "at_risk", "adoption",
                  "onboarding", "mature", "mature", "adoption"]})
    accounts = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4", "A5"],
                             "end_date": [pd.NaT, pd.NaT, _ts("2024-11-15"), pd.NaT, pd.NaT]})
    paths = FL.stage_paths(stages, accounts, d)
    assert list(paths["account_id"]) == ["A1", "A2", "A3", "A4"]  # A5 was not a customer at the first date
    assert paths.set_index("account_id")["path"].to_dict() == {
        "A1": "adoption > mature > mature", "A2": "adoption > mature > mature",
        "A3": "adoption > at_risk > churned", "A4": "onboarding > adoption > left"}
    top = FL.common_paths(paths, n=2)
    assert top.values.tolist() == [["adoption > mature > mature", 2, 0.5], ["adoption > at_risk > churned", 1, 0.25]]
    tr = FL.transitions(paths)
    assert {(r.step, r._2, r.to): r.accounts for r in tr.itertuples()} == {
        (0, "adoption", "mature"): 2, (0, "adoption", "at_risk"): 1, (0, "onboarding", "adoption"): 1,
        (1, "mature", "mature"): 2, (1, "at_risk", "churned"): 1, (1, "adoption", "left"): 1}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = FL.plot_flow(tr, d)
    # blocks: 2 states at the first date, 3 at the second, 3 at the last; one band per move
    assert len(ax.patches) == 8 and len(ax.collections) == 6
    plt.close(ax.figure)


# ------------------------------------------------------------------------------------------ channels
def test_touches_are_counted_by_phase_channel_and_device(tmp_path):
    p = tmp_path / "processed"
    p.mkdir()
    tp = pd.DataFrame([
        ("X", "2024-05-10", "content_read", "mobile"), ("X", "2024-05-20", "content_read", "mobile"),
        ("X", "2024-05-25", "trial", "desktop"),
        ("X", "2024-01-15", "content_read", "desktop"),  # more than 90 days before X started: not its approach
        ("X", "2024-07-01", "webinar", "desktop"), ("X", "2024-08-01", "newsletter", None),
        ("Y", "2024-01-20", "content_read", "mobile"),  # Y started too soon after the data begin: approach unseen
        ("Y", "2024-03-01", "webinar", "desktop"),
        ("Y", "2024-07-01", "newsletter", None),  # after Y left
        ("Z", "2024-08-15", "material_request", "desktop"),
    ], columns=["account_id", "timestamp", "channel", "device"])
    tp["timestamp"] = pd.to_datetime(tp["timestamp"], utc=True)
    tp.to_parquet(p / "touchpoints.parquet", index=False)
    accounts = pd.DataFrame({"account_id": ["X", "Y", "Z"],
                             "start_date": pd.to_datetime(["2024-06-01", "2024-02-01", "2024-09-01"], utc=True),
                             "end_date": [pd.NaT, _ts("2024-06-01"), pd.NaT]})
    got = CH.touch_summary(p, accounts, _ts("2024-01-01"), _ts("2025-01-01"), lookback_days=90)
    rows = {(r.phase, r.channel, r.device): (r.touches, r.accounts, r.phase_accounts) for r in got.itertuples()}
    assert rows == {("before_start", "content_read", "mobile"): (2, 1, 2),
                    ("before_start", "trial", "desktop"): (1, 1, 2),
                    ("before_start", "material_request", "desktop"): (1, 1, 2),
                    ("after_start", "webinar", "desktop"): (2, 2, 3),
                    ("after_start", "newsletter", "unknown"): (1, 1, 3)}
    assert list(got["phase"]) == ["before_start"] * 3 + ["after_start"] * 2


def test_exposures_are_the_touches_inside_each_accounts_window_once_per_account(tmp_path):
    """A window is [lo, hi) per account (no hi: open), the touches are cut at ``until``, a missing device is not
    a device touched from, a touch without a channel is not a channel, and an account without lo has no window."""
    p = tmp_path / "processed"
    p.mkdir()
    tp = pd.DataFrame([
        ("A", "2024-03-01", "webinar", "mobile"),  # at lo: inside
        ("A", "2024-03-05", "webinar", "mobile"),  # the same exposure again: once
        ("A", "2024-04-01", "trial", "desktop"),  # at hi: outside
        ("B", "2024-03-10", "newsletter", None),  # unknown device: a channel, not a device
        ("B", "2024-03-11", None, "desktop"),  # no channel: a device only
        ("B", "2024-06-01", "event", "desktop"),  # B's window has no end, but this is after `until`
        ("C", "2024-03-10", "webinar", "mobile"),  # C has no start: no window
        ("D", "2024-03-10", "webinar", "mobile"),  # D is not among the accounts
    ], columns=["account_id", "timestamp", "channel", "device"])
    tp["timestamp"] = pd.to_datetime(tp["timestamp"], utc=True)
    tp.to_parquet(p / "touchpoints.parquet", index=False)
    windows = CH._window(["A", "B", "C"], "after_start",
                         pd.Series(pd.to_datetime(["2024-03-01", "2024-03-01", None], utc=True)),
                         pd.Series(pd.to_datetime(["2024-04-01", None, None], utc=True)))
    got = CH._exposures(p, windows, _ts("2024-05-01"))
    assert sorted(map(tuple, got.to_numpy())) == [("A", "channel", "webinar"), ("A", "touch_device", "mobile"),
                                                  ("B", "channel", "newsletter"), ("B", "touch_device", "desktop")]
    assert CH._exposures(tmp_path, windows, _ts("2024-05-01")).empty  # no touchpoints file: no exposure
    one_date = CH._window(["A"], "after_start", _ts("2024-03-02"), _ts("2024-04-02"))  # one date for all
    assert sorted(map(tuple, CH._exposures(p, one_date, _ts("2024-05-01")).to_numpy())) == [
        ("A", "channel", "trial"), ("A", "channel", "webinar"), ("A", "touch_device", "desktop"),
        ("A", "touch_device", "mobile")]


def test_outcomes_by_exposure_compare_rates_with_and_without_each_exposure():
    base = pd.DataFrame({"account_id": [f"a{i}" for i in range(30)],
                         "churned": [1.0] * 3 + [0.0] * 12 + [1.0] * 9 + [0.0] * 6,
                         "expanded": [np.nan] * 30})
    exposures = pd.concat([
        pd.DataFrame({"account_id": [f"a{i}" for i in range(15)], "kind": "channel", "value": "webinar"}),
        pd.DataFrame({"account_id": [f"a{i}" for i in range(5)], "kind": "channel", "value": "event"}),  # < 10
    ])
    rows = CH._compare_rows(base, exposures, "after_start", min_n=10)
    assert len(rows) == 1
    r = rows[0]
    assert (r["value"], r["n_with"], r["n_without"]) == ("webinar", 15, 15)
    assert r["churned_with"] == pytest.approx(0.2) and r["churned_without"] == pytest.approx(0.6)
    from scipy.stats import fisher_exact

    assert r["churned_p"] == pytest.approx(fisher_exact([[3, 12], [9, 6]])[1])
    assert r["churned_with_low"] < 0.2 < r["churned_with_high"] and np.isnan(r["expanded_with"])


def test_the_channel_table_compares_accounts_by_their_main_recorded_device(tmp_path):
    """outcomes_by_exposure end to end on events: 20 accounts mostly on a phone (15 churn), 10 on a desktop (2
    churn), 10 whose events record no device (5 churn). The device rows are mobile and desktop, each against
    all other customers at the landmark; the accounts without a device are in no device's group."""
    p = tmp_path / "processed"
    p.mkdir()
    ids = [f"a{i:02d}" for i in range(40)]
    landmark = _ts("2024-06-01")
    rows = []
    for i, a in enumerate(ids):
        main = "mobile" if i < 20 else "desktop" if i < 30 else None
        other = "desktop" if main == "mobile" else "mobile" if main == "desktop" else None
        for k, dev in enumerate([main, main, other]):  # two events on the main device, one on the other
            rows.append({"account_id": a, "timestamp": landmark - pd.Timedelta(days=10 + k), "device": dev})
    pd.DataFrame(rows).astype({"device": "string"}).to_parquet(p / "events.parquet", index=False)
    accounts = pd.DataFrame({"account_id": ids, "start_date": _ts("2023-01-01"), "end_date": pd.NaT})
    churned = [1.0] * 15 + [0.0] * 5 + [1.0] * 2 + [0.0] * 8 + [1.0] * 5 + [0.0] * 5
    panel = pd.DataFrame({"account_id": ids, "as_of": landmark, "churned_within_h": churned})
    got = CH.outcomes_by_exposure(p, accounts, None, panel, _ts("2023-01-01"), landmark + pd.Timedelta(days=200),
                                  horizon_days=180)
    dev = got[got["kind"] == "main_device"].set_index("value")
    assert sorted(dev.index) == ["desktop", "mobile"]  # no "unknown"
    assert (dev.loc["mobile", "n_with"], dev.loc["mobile", "n_without"]) == (20, 20)
    assert (dev.loc["desktop", "n_with"], dev.loc["desktop", "n_without"]) == (10, 30)
    assert dev.loc["mobile", "churned_with"] == pytest.approx(15 / 20)
    assert dev.loc["mobile", "churned_without"] == pytest.approx(7 / 20)
    assert dev.loc["desktop", "churned_with"] == pytest.approx(2 / 10)
    assert dev.loc["desktop", "churned_without"] == pytest.approx(20 / 30)
    assert (got["phase"] == "after_start").all() and got["landmark"].eq(landmark).all()


def test_the_summary_line_names_the_persona_that_grew_the_most_in_both_languages():
    from engage_models.journeys import views

    assign, d0, d1 = _assign()
    sizes = assign.groupby(["as_of", "persona"]).size().rename("accounts").reset_index()
    sizes["share"] = sizes["accounts"] / sizes.groupby("as_of")["accounts"].transform("sum")
    g = ST.growth(sizes, d0, d1, {2: {"en": "many outputs", "ja": "アウトプットが多い"}})
    # persona 2: 2 of 4 accounts (50%) in September, 4 of 5 (80%) in December
    assert (g["top"]["persona"], g["top"]["accounts_before"], g["top"]["accounts_now"]) == (2, 2, 4)
    en, ja = views.growth_sentence(g, "en"), views.growth_sentence({"growth": g}, "ja")
    assert "many outputs" in en and "50%" in en and "80%" in en
    assert "アウトプットが多い" in ja and "ペルソナ" in ja
    assert views.growth_sentence({}, "en") == ""


def test_the_switching_interval_counts_accounts_not_account_months():
    dates = pd.date_range("2024-01-01", periods=11, freq="MS", tz=UTC)

    def assign(changes):  # changes: account -> dates index at which its persona flips
        rows = []
        for a in range(20):
            p = 1
            for i, d in enumerate(dates):
                if i in changes.get(a, ()):
                    p = 3 - p
                rows.append({"account_id": f"a{a}", "as_of": d, "persona": p})
        return pd.DataFrame(rows)

    few = ST.switching_rate(assign({0: range(1, 11), 1: range(1, 11)}))  # 2 accounts change at every date
    spread = ST.switching_rate(assign({a: (5,) for a in range(20)}))  # every account changes once
    for r in (few, spread):
        assert (r["changed"], r["pairs"], r["accounts"]) == (20, 200, 20) and r["rate"] == pytest.approx(0.1)
    assert few["low"] < spread["low"] < 0.1 < spread["high"] < few["high"]
    from engage_models._core.stats import wilson_interval

    lo, hi = wilson_interval(20, 200)  # as if the 200 pairs were independent
    assert spread["high"] - spread["low"] == pytest.approx(float(hi - lo), rel=0.15)
    assert few["high"] - few["low"] > 2 * float(hi - lo)


def test_exposures_reach_accounts_whose_ids_are_numbers(tmp_path):
    """The touches' account ids come back from DuckDB as text; accounts numbered 1, 2, ... are still found
    exposed (they were all counted unexposed for a moment, which emptied the channel table silently)."""
    base = pd.DataFrame({"account_id": np.arange(30), "churned": [1.0] * 3 + [0.0] * 12 + [1.0] * 9 + [0.0] * 6,
                         "expanded": np.nan})
    exposures = pd.DataFrame({"account_id": [str(i) for i in range(15)], "kind": "channel", "value": "webinar"})
    (row,) = CH._compare_rows(base, exposures, "after_start", min_n=10)
    assert (row["n_with"], row["n_without"]) == (15, 15) and row["churned_with"] == pytest.approx(0.2)


def test_touch_windows_read_timestamps_without_a_zone_as_utc(tmp_path, monkeypatch):
    """A touches file whose timestamps carry no zone is read as UTC whatever the machine's zone."""
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        p = tmp_path / "processed"
        p.mkdir()
        pd.DataFrame({"account_id": ["A"], "timestamp": pd.to_datetime(["2024-03-01 03:00"]).astype("datetime64[us]"),
                      "channel": ["webinar"], "device": ["mobile"]}).to_parquet(p / "touchpoints.parquet", index=False)
        after = CH._window(["A"], "after_start", _ts("2024-03-01"), None)
        assert len(CH._exposures(p, after, _ts("2024-06-01"))) == 2  # 03:00 UTC is after a start at midnight UTC
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_main_device_is_a_recorded_device_never_unknown():
    """"unknown" is no device: an account whose events mostly lack one gets its most used recorded device, and
    one none of whose events has a device gets no main device (the comparison "main device: unknown" was the
    accounts with events against those without, and read as a finding)."""
    wide = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "desktop": [5, 0, 0, 2], "mobile": [1, 2, 0, 3],
                         "unknown": [0, 9, 4, 1]})
    got = CH._main_device(wide)
    assert sorted(map(tuple, got.to_numpy())) == [("a", "main_device", "desktop"), ("b", "main_device", "mobile"),
                                                  ("d", "main_device", "mobile")]
    assert CH._main_device(wide[["account_id", "unknown"]]).empty  # no device recorded at all
    assert CH._main_device(pd.DataFrame(columns=["account_id"])).empty


def test_a_device_column_never_filled_is_not_read_and_gives_no_device(tmp_path):
    """Ingest writes an optional column the source lacked as all missing; the row groups' statistics say so
    without a scan, and the events per device are then empty (not one column "unknown")."""
    p = tmp_path / "processed"
    p.mkdir()
    ev = pd.DataFrame({"account_id": ["a", "a", "b"] * 4, "timestamp": pd.date_range("2024-03-01", periods=12,
                                                                                       freq="D", tz=UTC),
                       "device": pd.Series([None] * 12, dtype="string")})
    ev.to_parquet(p / "events.parquet", index=False, row_group_size=5)
    assert not CH._recorded(p / "events.parquet", "device") and not CH._recorded(p / "events.parquet", "feature")
    assert CH.events_by_device(p, _ts("2024-01-01"), _ts("2025-01-01")).empty
    assert CH.device_mix(p, _ts("2024-01-01"), _ts("2025-01-01")).empty  # not one row "unknown 100%"
    ev.loc[11, "device"] = "mobile"  # one value, in the last row group
    ev.to_parquet(p / "events.parquet", index=False, row_group_size=5)
    assert CH._recorded(p / "events.parquet", "device")
    wide = CH.events_by_device(p, _ts("2024-01-01"), _ts("2025-01-01")).set_index("account_id")
    assert wide.loc["b", "mobile"] == 1 and wide.loc["a", "unknown"] == 8 and wide["unknown"].sum() == 11
    mix = CH.device_mix(p, _ts("2024-01-01"), _ts("2025-01-01")).set_index("device")
    assert mix["events"].to_dict() == {"unknown": 11, "mobile": 1} and mix.loc["mobile", "accounts"] == 1
    assert mix["share"].sum() == pytest.approx(1.0)
    # the one device lies outside the window: none recorded in it, no table
    assert CH.device_mix(p, _ts("2024-03-01"), _ts("2024-03-11")).empty


def test_a_nested_field_of_the_same_name_is_not_the_device_column(tmp_path):
    p = tmp_path / "events.parquet"
    pd.DataFrame({"meta": [{"device": None}, {"device": None}], "device": ["mobile", "desktop"]}).to_parquet(p)
    assert CH._recorded(p, "device")


# ------------------------------------------------------------------------------------------ report 07's tables
def _two_cohort_world(n_not: int = 20, churn_not: int = 5, churn_not_day: int = 100):
    """20 accounts that started at the data's start and reached the milestone on day 5, none of which left
    (followed 24 months); ``n_not`` that started on 1 Jul 2024, never reached it, ``churn_not`` of them leaving
    on day ``churn_not_day`` (followed about 6 months: the "not reached" curve ends long before 12 months)."""
    late = _ts("2024-07-01")
    rows = [{"account_id": f"r{i}", "start_date": DATA_START, "end_date": pd.NaT} for i in range(20)]
    rows += [{"account_id": f"n{i}", "start_date": late,
              "end_date": late + pd.Timedelta(days=churn_not_day) if i < churn_not else pd.NaT} for i in range(n_not)]
    times = pd.DataFrame({"account_id": [f"r{i}" for i in range(20)], "milestone": "m",
                          "reached_at": DATA_START + pd.Timedelta(days=5)})
    return MS.observed_accounts(pd.DataFrame(rows), DATA_START, AS_OF), times


def test_each_milestone_is_compared_where_both_its_groups_are_still_followed_with_the_difference_interval():
    # the report showed one retention cell per row and no difference: 12 months was chosen over all accounts,
    # the "not reached" curve ends at 6 months, and the comparison came back NaN
    accounts, times = _two_cohort_world()
    table, _, skipped = MS.landmark_analysis(times, accounts, [MS.Milestone("m", "events")], 30, AS_OF, 12.0)
    assert skipped == {}
    r = table.iloc[0]
    # the not-reached accounts are followed 184 days (6.05 months): 6 is the longest whole month both have 10
    assert r["at_months"] == 6.0 and (r["reached_at_risk"], r["not_reached_at_risk"]) == (20, 15)
    assert r["not_reached_survival"] == pytest.approx(15 / 20) and r["reached_survival"] == 1.0
    # 5 of 20 leave at once: exponential Greenwood (log-log) by hand
    se = np.sqrt(5 / (20 * 15)) / abs(np.log(0.75))
    lo2, hi2 = (np.exp(-np.exp(np.log(-np.log(0.75)) + s * 1.959964 * se)) for s in (1, -1))
    assert (r["not_reached_ci_low"], r["not_reached_ci_high"]) == pytest.approx((lo2, hi2), abs=1e-4)
    # no churn among the reached: not Greenwood's "100% (100% to 100%)" but the Wilson interval of the 20 followed
    assert r["reached_ci_low"] == pytest.approx(20 / (20 + 1.959964**2)) and r["reached_ci_high"] == 1.0
    assert r["difference"] == pytest.approx(0.25)
    assert r["difference_low"] == pytest.approx(0.25 - np.hypot(1 - r["reached_ci_low"], hi2 - 0.75), abs=1e-4)
    assert r["difference_high"] == pytest.approx(0.25 + np.hypot(0.0, 0.75 - lo2), abs=1e-4)
    assert r["why_en"] == "" and r["why_ja"] == ""


def test_a_milestone_whose_groups_are_never_both_followed_says_why_and_shows_no_q_value():
    # 12 accounts never reached it, 4 left on day 45: 8 still followed at 2 months, the shortest tenure compared
    accounts, times = _two_cohort_world(n_not=12, churn_not=4, churn_not_day=45)
    table, _, _ = MS.landmark_analysis(times, accounts, [MS.Milestone("m", "events")], 30, AS_OF, 12.0)
    r = table.iloc[0]
    assert np.isnan(r["at_months"]) and np.isnan(r["difference"]) and np.isnan(r["reached_survival"])
    assert r["why_en"] == ("20 accounts that reached it and 8 that did not were still followed at 2 months of "
                           "tenure (retention is read where each group has at least 10)")
    assert r["why_ja"].startswith("契約2か月時点で追跡中の顧客は、到達20社・未到達8社")
    assert r["naive_why_en"] == r["why_en"]
    view = V.milestone_view(table, "en").frame.iloc[0]
    assert view["difference"] == r["why_en"]
    assert view["q-value (log-rank)"] == "not shown: the groups could not be compared"
    assert view["retention compared at"] == view["retention then: reached"] == "not compared"
    shown = V.milestone_view(_shown_table(), "en").frame.iloc[0]
    assert shown["retention compared at"] == "6 months" and shown["difference"].startswith("+25.0 pp (")
    # a run published before the intervals and reasons were written still renders
    old = _shown_table().drop(columns=["difference_low", "difference_high", "why_en", "why_ja", "naive_why_en"])
    assert V.milestone_view(old, "en").frame.iloc[0]["difference"] == "+25.0 pp"
    # no churn in either group: a difference of 0 with its interval, and no log-rank test (it printed "nan")
    accounts, times = _two_cohort_world(churn_not=0)
    flat = MS.landmark_analysis(times, accounts, [MS.Milestone("m", "events")], 30, AS_OF, 12.0)[0]
    row = V.milestone_view(flat, "en").frame.iloc[0]
    assert row["difference"].startswith("+0.0 pp (")
    assert row["q-value (log-rank)"] == "no test: no churn in either group"
    assert V.milestone_view(flat, "ja").frame.iloc[0].tolist()[-1] == "どちらの群にも解約がないため検定なし"


def _shown_table():
    accounts, times = _two_cohort_world()
    return MS.landmark_analysis(times, accounts, [MS.Milestone("m", "events")], 30, AS_OF, 12.0)[0]


def _persona_world(tmp_path, stop: str | None = None):
    """Four monthly observation dates (Apr to Jul 2024); persona 1 of 30 accounts (a*), persona 2 of 8 (b*, and
    c0, which moves to it on 1 Jul from persona 1), persona 3 of one account (e0) without NPS answers. NPS
    answers: two in March (before the first date, inside its 90-day window), one in December (in no window),
    one in May, one in June, one exactly at midnight on 1 Jun."""
    dates = pd.to_datetime(["2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01"], utc=True)
    who = {**{f"a{i}": 1 for i in range(30)}, **{f"b{i}": 2 for i in range(7)}, "c0": 1, "d0": 2, "e0": 3}
    assign = pd.DataFrame([{"account_id": a, "as_of": d, "persona": 2 if a == "c0" and d == dates[-1] else p}
                           for d in dates for a, p in who.items()])
    pnl = assign[["account_id", "as_of"]].assign(churned_within_h=0.0, mrr=100.0)
    if stop:  # known_labels at a churn stop before every date's window ends: no label left, the stop recorded
        pnl["churned_within_h"] = np.nan
        pnl.attrs["churn_stop"] = {"stop": stop}
    (tmp_path / "processed").mkdir()
    pd.DataFrame({"response_id": [f"s{i}" for i in range(6)],
                  "account_id": ["a0", "b0", "a2", "a1", "c0", "d0"],
                  "submitted_at": pd.to_datetime(["2024-03-15", "2024-03-20", "2023-12-01", "2024-05-10",
                                                  "2024-06-10", "2024-06-01"], utc=True),
                  "survey_type": "nps", "score": [10.0, 0.0, 10.0, 9.0, 0.0, 8.0]}
                 ).to_parquet(tmp_path / "processed" / "surveys.parquet")
    now = pnl[pnl["as_of"] == dates[-1]].merge(assign, on=["account_id", "as_of"])
    matches = pd.DataFrame({"persona": [1, 2, 3], "status": "new"})
    words = {p: {"en": f"words {p}", "ja": f"w{p}"} for p in (1, 2, 3)}
    return ST.persona_table(now, assign, pnl, None, tmp_path / "processed", dates[-1], 30, matches,
                            PS.PersonaRegistry(None), words, min_n=30).set_index("persona")


def test_persona_nps_counts_each_answer_in_the_persona_whose_window_holds_it(tmp_path):
    # the report's NPS column was blank: answers were matched to the date *before* them, and in a six-month world
    # every answer came before the first observation date
    tbl = _persona_world(tmp_path)
    # persona 1: a0 (15 Mar -> 1 Apr), a1 (10 May -> 1 Jun): two promoters; a2's December answer is in no window
    assert (tbl.loc[1, "nps_answers"], tbl.loc[1, "nps"]) == (2, 100.0)
    # persona 2: b0 (20 Mar -> 1 Apr), c0 (10 Jun -> 1 Jul, in persona 2 by then), d0 (1 Jun 00:00 -> 1 Jul)
    assert (tbl.loc[2, "nps_answers"], tbl.loc[2, "nps"]) == (3, pytest.approx(-200 / 3))
    assert tbl.loc[1, "nps_why_en"] == "" and np.isnan(tbl.loc[3, "nps"])
    assert tbl.loc[3, "nps_why_en"] == "no NPS answer from its accounts in the last 365 days"
    assert tbl.loc[3, "nps_why_ja"] == "直近365日間にこのペルソナの顧客からのNPS回答がありません"
    cells = V.persona_table_view(tbl.reset_index(), "en", horizon_days=30).frame.set_index("persona")["NPS"]
    assert cells.iloc[2] == "no NPS answer from its accounts in the last 365 days"
    assert cells.iloc[0].startswith("+100 (95% CI") and cells.iloc[0].endswith("(small n)")


def test_a_persona_without_a_known_churn_says_whether_the_data_end_or_the_churn_stop_is_why(tmp_path):
    """At a churn stop the reason said no date was a horizon before the latest one, as if the data were too short,
    when it was the stop that left no label."""
    for world in ("plain", "stopped"):
        (tmp_path / world).mkdir()
    plain = _persona_world(tmp_path / "plain")
    assert (plain["churn_why_en"] == "").all() and plain.loc[1, "churn_accounts"] == 31  # labels known on 1 Jun
    stopped = _persona_world(tmp_path / "stopped", stop="2024-04-20")
    assert "churn_rate" not in stopped
    assert (stopped["churn_why_en"] == "the accounts' churn stops on 20 Apr 2024 (report 01) and no observation date "
            "is 30 days before that day, so no churn within the horizon is known yet").all()
    assert (stopped["churn_why_ja"] == "顧客の解約が2024年4月20日で止まっており（レポート01）、"
            "その日より30日以上前の観測日がないため、予測期間内の解約はまだわかりません").all()


def test_a_persona_of_fewer_accounts_than_surveys_min_n_is_flagged_in_the_table_and_in_its_words(tmp_path):
    tbl = _persona_world(tmp_path)
    # today: persona 1 has 30 accounts, persona 2 nine (c0 moved to it), persona 3 one; surveys.min_n = 30
    assert tbl["accounts"].to_dict() == {1: 30, 2: 9, 3: 1}
    assert tbl["few_accounts"].to_dict() == {1: False, 2: True, 3: True} and (tbl["min_accounts"] == 30).all()
    view = V.persona_table_view(tbl.reset_index(), "en", horizon_days=30).frame
    assert view["persona"].tolist() == ["Persona 1 (new)", "Persona 2 (new) (few accounts)",
                                        "Persona 3 (new) (few accounts)"]
    assert view["what sets it apart"].iloc[0] == "words 1"
    assert view["what sets it apart"].iloc[1] == ("words 2; built on 9 accounts, fewer than 30: its words and "
                                                   "rates are uncertain")
    ja = V.persona_table_view(tbl.reset_index(), "ja", horizon_days=30).frame
    assert ja.iloc[1, 1] == "w2、9社（30社未満）にもとづくため、特徴と各率は不確かです"
    # the executive summary's line says it too
    sizes = pd.DataFrame({"as_of": [1, 1, 2, 2], "persona": [1, 2, 1, 2], "accounts": [40, 2, 40, 9],
                          "share": [40 / 42, 2 / 42, 40 / 49, 9 / 49]})
    g = ST.growth(sizes, 1, 2, {2: {"en": "heavy exports", "ja": "x"}}, min_n=30)
    assert g["top"]["persona"] == 2 and g["top"]["few_accounts"]
    said = V.growth_sentence({"growth": {**g, "previous": "2024-06-01"}}, "en")
    assert "(heavy exports)" in said and said.endswith(  # a sentence of its own, not one more trait
        " It is built on 9 accounts, fewer than 30: its traits and rates are uncertain."), said
    assert V.growth_sentence({"growth": {**g, "previous": "2024-06-01"}}, "ja").endswith(
        "このペルソナは9社（30社未満）にもとづくため、特徴と各率は不確かです。")
    # a persona every account has left: not "built on 0 accounts" (a purchase log's persona that shrank to none)
    gone = pd.DataFrame({"as_of": [1, 1, 1, 2, 2], "persona": [1, 2, 3, 1, 3], "accounts": [20, 20, 20, 30, 30],
                         "share": [1 / 3, 1 / 3, 1 / 3, 0.5, 0.5]})
    g = ST.growth(gone, 1, 2, {2: {"en": "heavy exports", "ja": "x"}}, min_n=30)
    assert (g["top"]["persona"], g["top"]["accounts_now"]) == (2, 0)
    said = V.growth_sentence({"growth": {**g, "previous": "2024-06-01"}}, "en")
    assert "built on 0" not in said and said.endswith(" No account is in it today: its traits are those it was "
                                                      "found with."), said
    row = tbl.reset_index().assign(accounts=[30, 9, 0], share=[30 / 39, 9 / 39, 0.0])
    view = V.persona_table_view(row, "en", horizon_days=30).frame
    assert view["what sets it apart"].iloc[2].endswith("no account is in it today: its words are those it was found "
                                                       "with")


def test_the_comparison_tenure_always_lies_a_month_past_the_landmark():
    """candidate_months kept the preferred 12 months whatever the landmark: with a landmark at 400 days the
    comparison sat before it."""
    assert MS.candidate_months(30, 12.0)[0] == 12.0 and MS.candidate_months(30, 12.0)[-1] == 2.0
    assert MS.candidate_months(400, 12.0) == []  # a landmark at 13.1 months: 12 months is before it
    assert MS.candidate_months(335, 12.0) == [12.0]  # 11.0 months: 12 is after it, no whole month a month after
    assert MS.candidate_months(30, 1.5) == [1.5]  # a preferred tenure after the landmark is kept
    assert all(m >= 200 / 30.4375 + 1 for m in MS.candidate_months(200, 12.0))
