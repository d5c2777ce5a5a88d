"""KPIs against answers computed by hand on tiny tables, and against the simulator's own record."""

from __future__ import annotations

import doctest

import matplotlib
import numpy as np
import pandas as pd
import pytest

from engage_models import kpis as K
from engage_models._core import i18n
from engage_models._core.plots import setup

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def ts(s):
    return pd.Timestamp(s, tz="UTC")


# The tiny world. Subscriptions cover Jan-Apr 2024; as_of = 2024-05-01 (the close of April). Monthly figures
# are snapshots at month closes (customer on the month's last day); movements of m compare close m-1 -> m.
#
#   A  start 2023-06-01, active          subs Jan 100, Feb 100, Mar 150, Apr 150   expansion +50 in Mar
#   B  start 2023-09-15, active          subs Jan 200, Feb 120, (no Mar row), Apr 120
#                                        contraction -80 in Feb; the missing Mar row carries 120 forward
#   C  start 2023-03-01, end 2024-03-15  subs Jan 50, Feb 50, Mar 50 (partial month)   churns mid-March: -50
#   D  start 2024-02-10, active          NO subscription rows: accounts.mrr = 80 every month
#   E  start 2024-03-01, active          subs Mar 60, Apr 90                      new in Mar, expansion +30 in Apr
#   F  start 2024-04-05, end 2024-04-20  subs Apr 40: starts and churns inside April, never at a close
#
# MRR at the closes:  Jan: A100 B200 C50            = 350
#                     Feb: A100 B120 C50 D80        = 350
#                     Mar: A150 B120     D80 E60    = 410
#                     Apr: A150 B120     D80 E90    = 440
ACCOUNTS = pd.DataFrame({
    "account_id": list("ABCDEF"),
    "segment": ["SMB", "Enterprise", "SMB", "SMB", "Enterprise", "SMB"],
    "plan": ["Pro"] * 6,
    "mrr": [150.0, 120.0, 50.0, 80.0, 90.0, 40.0],
    "start_date": [ts("2023-06-01"), ts("2023-09-15"), ts("2023-03-01"), ts("2024-02-10"), ts("2024-03-01"),
                   ts("2024-04-05")],
    "end_date": [pd.NaT, pd.NaT, ts("2024-03-15"), pd.NaT, pd.NaT, ts("2024-04-20")],
})  # fmt: skip
_SUBS = [("A", "2024-01-01", 100), ("A", "2024-02-01", 100), ("A", "2024-03-01", 150), ("A", "2024-04-01", 150),
         ("B", "2024-01-01", 200), ("B", "2024-02-01", 120), ("B", "2024-04-01", 120),
         ("C", "2024-01-01", 50), ("C", "2024-02-01", 50), ("C", "2024-03-01", 50),
         ("E", "2024-03-01", 60), ("E", "2024-04-01", 90), ("F", "2024-04-01", 40)]
SUBS = pd.DataFrame({"account_id": [r[0] for r in _SUBS], "period_start": [ts(r[1]) for r in _SUBS],
                     "mrr": [float(r[2]) for r in _SUBS]})
AS_OF = "2024-05-01"
MONTHS = [ts("2024-02-01"), ts("2024-03-01"), ts("2024-04-01")]

# A hand-made panel (account_id x as_of with the 28-day columns of the registry).
PANEL = pd.DataFrame({
    "account_id": ["a1", "a2", "a3", "a1", "a3", "a3"],
    "as_of": [ts("2024-02-01")] * 3 + [ts("2024-03-01")] * 2 + [ts("2024-04-01")],
    "segment": ["SMB", "SMB", "Enterprise", "SMB", "Enterprise", "Enterprise"],
    "user_days_28d": [56, 0, 28, 28, 0, 0],
    "active_users_28d": [4, 0, 1, 2, 0, 0],
})  # fmt: skip


def wilson(k, n, z=1.959963984540054):
    """The Wilson interval written out independently of the module."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ------------------------------------------------------------------------------------------- MRR
def test_monthly_mrr_at_month_closes():
    m = K.monthly_mrr(ACCOUNTS, SUBS, as_of=AS_OF)
    got = m.pivot(index="account_id", columns="month", values="mrr")
    got.columns = [c.strftime("%b") for c in got.columns]
    expected = pd.DataFrame({"Jan": [100, 200, 50, np.nan, np.nan], "Feb": [100, 120, 50, 80, np.nan],
                             "Mar": [150, 120, np.nan, 80, 60], "Apr": [150, 120, np.nan, 80, 90]},
                            index=pd.Index(list("ABCDE"), name="account_id"))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert "F" not in set(m["account_id"])  # started and ended inside April: never a customer at a close
    assert m.attrs["mrr_source"] == "subscriptions"


def test_movements_per_account():
    mv = K.mrr_movements(ACCOUNTS, SUBS, as_of=AS_OF).set_index(["month", "account_id"])
    # February: D is new (80, from accounts.mrr: no subscription rows); B contracts 200 -> 120
    assert mv.loc[(ts("2024-02-01"), "D"), ["new", "movement"]].tolist() == [80.0, "new"]
    assert mv.loc[(ts("2024-02-01"), "B"), ["start_mrr", "end_mrr", "contraction", "movement"]].tolist() == [
        200.0, 120.0, 80.0, "contraction"]
    # March: A expands 100 -> 150; C churns mid-month with the 50 it paid at the February close; E is new;
    # B has no March row and keeps 120 (flat)
    march = mv.loc[ts("2024-03-01")]
    assert sorted(march.index) == list("ABCDE")
    assert march.loc["A", ["expansion", "movement"]].tolist() == [50.0, "expansion"]
    assert march.loc["C", ["start_mrr", "end_mrr", "churn", "movement"]].tolist() == [50.0, 0.0, 50.0, "churn"]
    assert march.loc["E", ["new", "movement"]].tolist() == [60.0, "new"]
    assert march.loc["B", "movement"] == "flat" and march.loc["D", "movement"] == "flat"
    # per row: end - start = new + expansion - contraction - churn
    np.testing.assert_array_equal(mv.end_mrr - mv.start_mrr, mv.new + mv.expansion - mv.contraction - mv.churn)


def test_bridge_by_hand_and_identity():
    b = K.mrr_bridge(ACCOUNTS, SUBS, as_of=AS_OF)
    assert b["month"].tolist() == MONTHS
    cols = ["start_mrr", "new", "expansion", "contraction", "churn", "end_mrr"]
    # Feb: 350 + 80 (D) + 0 - 80 (B) - 0 = 350
    # Mar: 350 + 60 (E) + 50 (A) - 0 - 50 (C) = 410
    # Apr: 410 + 0 (F never at a close) + 30 (E) - 0 - 0 = 440
    assert b[cols].to_numpy().tolist() == [[350, 80, 0, 80, 0, 350], [350, 60, 50, 0, 50, 410],
                                           [410, 0, 30, 0, 0, 440]]
    assert (b.start_mrr + b.new + b.expansion - b.contraction - b.churn == b.end_mrr).all()  # exactly
    assert (b.start_mrr.iloc[1:].to_numpy() == b.end_mrr.iloc[:-1].to_numpy()).all()
    assert b.customers_start.tolist() == [3, 4, 4] and b.customers_end.tolist() == [4, 4, 4]
    # an as_of beyond the subscriptions reports no month whose MRR is unknown
    assert K.mrr_bridge(ACCOUNTS, SUBS, as_of="2024-09-01")["month"].max() == MONTHS[-1]


def test_without_subscriptions_mrr_is_constant_and_expansion_invisible():
    # accounts.mrr: A150 B120 C50 D80 E90 -> closes Jan 320, Feb 400 (+D), Mar 440 (+E -C), Apr 440
    b = K.mrr_bridge(ACCOUNTS, None, as_of=AS_OF, observed_from="2024-01")
    assert b[["start_mrr", "new", "churn", "end_mrr"]].to_numpy().tolist() == [
        [320, 80, 0, 400], [400, 90, 50, 440], [440, 0, 0, 440]]
    assert (b.expansion == 0).all() and (b.contraction == 0).all()
    assert b.attrs["mrr_source"] == "accounts"
    rr = K.revenue_retention(ACCOUNTS, None, as_of=AS_OF, observed_from="2024-01")
    np.testing.assert_allclose(rr.grr, rr.nrr)
    np.testing.assert_allclose(rr.grr, 1 - rr.revenue_churn_rate)
    # an empty subscriptions table is the same as none
    pd.testing.assert_frame_equal(
        K.mrr_bridge(ACCOUNTS, SUBS.iloc[:0], as_of=AS_OF, observed_from="2024-01"), b)


def test_revenue_retention_by_hand():
    rr = K.revenue_retention(ACCOUNTS, SUBS, as_of=AS_OF)
    # Feb: S 350, contraction 80          -> GRR = NRR = 270/350; revenue churn 0; gross = net = 80/350
    # Mar: S 350, exp 50, churn 50         -> GRR 300/350, NRR 350/350 = 1; revenue churn = gross = 50/350; net 0
    # Apr: S 410, exp 30                   -> GRR 1, NRR 440/410 > 1; net revenue churn -30/410
    np.testing.assert_allclose(rr.grr, [270 / 350, 300 / 350, 1.0])
    np.testing.assert_allclose(rr.nrr, [270 / 350, 1.0, 440 / 410])
    np.testing.assert_allclose(rr.revenue_churn_rate, [0, 50 / 350, 0])
    np.testing.assert_allclose(rr.gross_revenue_churn_rate, [80 / 350, 50 / 350, 0])
    np.testing.assert_allclose(rr.net_revenue_churn_rate, [80 / 350, 0, -30 / 410], atol=1e-15)
    assert (rr.grr <= 1).all() and rr.nrr.max() > 1  # GRR capped by construction, NRR is not


def test_grr_never_above_one_even_when_expansion_dominates():
    # one account expanding tenfold, one contracting a little: NRR soars, GRR stays below 1
    acc = pd.DataFrame({"account_id": ["x", "y"], "mrr": [0.0, 0.0], "start_date": [ts("2023-01-01")] * 2,
                        "end_date": [pd.NaT, pd.NaT]})
    subs = pd.DataFrame({"account_id": ["x", "x", "y", "y"],
                         "period_start": [ts("2024-01-01"), ts("2024-02-01")] * 2, "mrr": [10.0, 100.0, 50.0, 45.0]})
    rr = K.revenue_retention(acc, subs)
    # S = 60, expansion 90, contraction 5: GRR = 55/60, NRR = 145/60
    np.testing.assert_allclose([rr.grr[0], rr.nrr[0]], [55 / 60, 145 / 60])


def test_trailing_retention_by_hand():
    tr = K.trailing_revenue_retention(ACCOUNTS, SUBS, months=2, as_of=AS_OF)
    # window Jan close -> Mar close: cohort A, B, C (S 100 + 200 + 50 = 350); at the Mar close A150 B120 C0
    #   NRR = 270/350; GRR = (min(150,100) + min(120,200) + 0)/350 = 220/350; E (new in Mar) is excluded
    # window Feb close -> Apr close: cohort A, B, C, D (S 350); Apr: A150 B120 C0 D80 = 350 -> NRR 1
    #   GRR = (100 + 120 + 0 + 80)/350 = 300/350
    assert tr["month"].tolist() == MONTHS[1:]
    assert tr.cohort_accounts.tolist() == [3, 4] and tr.retained_accounts.tolist() == [2, 3]
    np.testing.assert_allclose(tr.nrr_2m, [270 / 350, 1.0])
    np.testing.assert_allclose(tr.grr_2m, [220 / 350, 300 / 350])
    # 12 months of history do not exist here: no row, rather than a made-up one
    assert K.trailing_revenue_retention(ACCOUNTS, SUBS, as_of=AS_OF).empty


# ------------------------------------------------------------------------------------------- logos
def test_logo_churn_by_hand():
    lc = K.logo_churn(ACCOUNTS, SUBS, as_of=AS_OF)
    # Feb: A B C at the Jan close; D new;             0 churned      -> 0/3
    # Mar: A B C D; E new; C churns on 15 Mar         1 churned      -> 1/4
    # Apr: A B D E; F starts and churns in April (counted apart)     -> 0/4
    assert lc[["accounts_start", "new", "churned", "accounts_end", "started_and_churned"]].to_numpy().tolist() == [
        [3, 1, 0, 4, 0], [4, 1, 1, 4, 0], [4, 0, 0, 4, 1]]
    np.testing.assert_allclose(lc.logo_churn_rate, [0, 0.25, 0])
    lo, hi = wilson(1, 4)
    np.testing.assert_allclose([lc.ci_low[1], lc.ci_high[1]], [lo, hi])
    assert lc.ci_low[0] == 0 and lc.ci_high[0] == pytest.approx(wilson(0, 3)[1])
    assert (lc.accounts_start + lc.new - lc.churned == lc.accounts_end).all()


def test_accounts_that_end_on_their_start_day_are_counted_apart_and_said():
    """A CDNOW purchase log turned into accounts (churn date = the last purchase): 1,218 of 2,357 one-time buyers
    ended on their start day. They were in no count of logo_churn, not even started_and_churned, and report 02
    said nothing of them; cohorts and the continuation rate counted them."""
    once = pd.DataFrame({"account_id": ["G", "H", "I"], "segment": "SMB", "plan": "Pro", "mrr": [10.0, 20.0, 5.0],
                         "start_date": [ts("2024-03-07"), ts("2024-04-02"), ts("2024-01-10")],
                         "end_date": [ts("2024-03-07"), ts("2024-04-02"), ts("2024-01-10")]})
    acc = pd.concat([ACCOUNTS, once], ignore_index=True)
    lc = K.logo_churn(acc, SUBS, as_of=AS_OF)
    # as in test_logo_churn_by_hand, with G (March) and H (April) apart; F starts and churns in April too
    assert lc[["accounts_start", "new", "churned", "accounts_end", "started_and_churned"]].to_numpy().tolist() == [
        [3, 1, 0, 4, 0], [4, 1, 1, 4, 1], [4, 0, 0, 4, 2]]
    np.testing.assert_allclose(lc.logo_churn_rate, [0, 0.25, 0])  # the rates do not move
    # I came and went in January, the first month observed, which has no row: counted beside the table
    assert lc.attrs["started_and_churned_first"] == 1 and lc.attrs["first_month"] == ts("2024-01-01")
    note = K.unseen_note(lc)
    assert note.startswith("4 accounts started and left within one month (Jan 2024 to Apr 2024)"), note
    assert "cohort retention and the continuation rate count them" in note
    assert K.unseen_note(lc, "ja").startswith("4社は同じ月のうちに契約を開始し解約しました（2024年1月〜2024年4月）")
    # as the report reads it back: the first month as ISO text
    stored = lc.copy()
    stored.attrs = {"started_and_churned_first": 1, "first_month": "2024-01-01T00:00:00+00:00"}
    assert K.unseen_note(stored) == note
    assert K.unseen_note(K.logo_churn(ACCOUNTS.iloc[:5], SUBS, as_of=AS_OF)) == ""  # none: nothing said
    cohorts = K.cohort_retention(acc, SUBS, as_of=AS_OF)
    march = cohorts[(cohorts.cohort == ts("2024-03-01")) & (cohorts.months_since_start == 0)].iloc[0]
    assert (march.accounts, march.retained) == (2, 1)  # E stays, G is lost in its first month


def test_churn_on_the_first_of_a_month_belongs_to_that_month():
    # a customer on day d iff start <= d < end: ending on 1 March it was a customer on 29 February
    acc = ACCOUNTS.assign(end_date=ACCOUNTS.end_date.where(ACCOUNTS.account_id != "C", ts("2024-03-01")))
    lc = K.logo_churn(acc, SUBS, as_of=AS_OF).set_index("month")
    assert lc.loc[ts("2024-02-01"), "churned"] == 0 and lc.loc[ts("2024-03-01"), "churned"] == 1


def test_wilson_interval_known_values():
    lo, hi = K.wilson_interval([2, 0, 5], [4, 10, 5])
    # 2/4: the textbook (0.150, 0.850); 0/10: (0, 0.2775); 5/5: (0.5655, 1)
    np.testing.assert_allclose(lo, [0.1500, 0.0, 0.5655], atol=5e-5)
    np.testing.assert_allclose(hi, [0.8500, 0.2775, 1.0], atol=5e-5)
    assert np.isnan(K.wilson_interval(0, 0)[0])


def test_cohort_retention_is_right_censored():
    c = K.cohort_retention(ACCOUNTS, SUBS, as_of=AS_OF)
    m = K.cohort_matrix(c)
    # cohorts from the first observed month (Jan) on; A, B, C started before it and are not a cohort.
    #   Feb (D): customer at the Feb, Mar, Apr closes                     -> 1, 1, 1
    #   Mar (E): Mar, Apr closes                                          -> 1, 1, (May close not observed)
    #   Apr (F): gone before the April close                              -> 0 (a real zero), then censored
    assert m.index.tolist() == MONTHS and m.columns.tolist() == [0, 1, 2]
    expected = np.array([[1, 1, 1], [1, 1, np.nan], [0, np.nan, np.nan]])
    np.testing.assert_array_equal(m.to_numpy(), expected)
    assert len(c) == 6  # unobservable cells have no row at all
    # revenue: E went 60 -> 90 (1.5); F had no MRR at its start close (empty, not 0 or inf)
    rev = K.cohort_matrix(c, "revenue_retention")
    assert rev.loc[ts("2024-03-01"), 1] == 1.5 and np.isnan(rev.loc[ts("2024-04-01"), 0])


def test_continuation_rate_by_hand():
    acc = pd.DataFrame({
        "account_id": list("PQRSTU"), "segment": ["SMB", "SMB", "Ent", "Ent", "Ent", "Ent"], "mrr": 10.0,
        "start_date": [ts(d) for d in ("2024-01-10", "2024-02-01", "2024-03-15", "2024-06-01", "2023-05-01",
                                       "2024-04-01")],
        "end_date": [pd.NaT, ts("2024-12-01"), ts("2025-03-15"), pd.NaT, ts("2025-04-20"), ts("2025-04-02")],
    })  # fmt: skip
    out = K.continuation_rate(acc, months=12, as_of="2025-05-01", observed_from="2024-01")
    # P mark 2025-01-10, still a customer -> continued
    # Q mark 2025-02-01, left 2024-12-01 -> not
    # R mark 2025-03-15 = its end_date: not a customer on that day -> not
    # S mark 2025-06-01 after as_of -> not eligible (censored)
    # T started before observed_from -> not eligible (in the data because it survived)
    # U mark 2025-04-01, left 2025-04-02 -> continued
    assert out[["eligible", "continued"]].iloc[0].tolist() == [4, 2]
    assert out.continuation_rate[0] == 0.5
    np.testing.assert_allclose([out.ci_low[0], out.ci_high[0]], wilson(2, 4))
    seg = K.continuation_rate(acc, months=12, as_of="2025-05-01", observed_from="2024-01", by="segment")
    assert seg.set_index("segment").continuation_rate.to_dict() == {"Ent": 0.5, "SMB": 0.5}
    assert seg.eligible.tolist() == [2, 2]


# ------------------------------------------------------------------------------------------- usage
def test_engagement_over_time_by_hand():
    e = K.engagement_over_time(PANEL)
    # 1 Feb: a1 (56 user-days, 4 users), a2 (nobody), a3 (28, 1): active 2/3; DAU = 84/28 = 3, MAU = 5 -> 0.6
    #        (not the mean of per-account ratios: a1 0.5, a3 1.0 -> 0.75)
    # 1 Mar: a1 (28, 2), a3 (nobody): active 1/2; DAU 1, MAU 2 -> 0.5
    # 1 Apr: a3 (nobody): active 0/1; DAU/MAU 0 (nobody active)
    assert e.accounts.tolist() == [3, 2, 1] and e.active_accounts.tolist() == [2, 1, 0]
    np.testing.assert_allclose(e.active_account_rate, [2 / 3, 0.5, 0.0])
    np.testing.assert_allclose(e.dau_mau, [0.6, 0.5, 0.0])
    np.testing.assert_allclose([e.ci_low[0], e.ci_high[0]], wilson(2, 3))
    by = K.engagement_over_time(PANEL, by="segment").set_index(["as_of", "segment"])
    assert by.loc[(ts("2024-02-01"), "SMB"), "dau_mau"] == pytest.approx((56 / 28) / 4)
    with pytest.raises(ValueError, match="user_days_28d"):
        K.engagement_over_time(PANEL.drop(columns="user_days_28d"))


def test_kpi_summary_latest_month_against_previous():
    s = K.kpi_summary(ACCOUNTS, SUBS, PANEL, as_of=AS_OF).set_index("kpi")
    assert s.attrs["month"] == ts("2024-04-01")
    assert s.loc["customers", ["value", "previous", "change"]].tolist() == [4, 4, 0]
    assert s.loc["mrr_total", ["value", "previous", "change"]].tolist() == [440, 410, 30]
    churn = s.loc["logo_churn_rate"]
    assert [churn.value, churn.previous, churn.change] == [0, 0.25, -0.25]
    assert churn.ci_low == 0 and churn.ci_high == pytest.approx(wilson(0, 4)[1])
    assert s.loc["nrr", "value"] == pytest.approx(440 / 410) and s.loc["grr", "previous"] == pytest.approx(300 / 350)
    assert s.loc["dau_mau", ["value", "previous"]].tolist() == [0.0, 0.5]
    assert s.loc["dau_mau", "period"] == ts("2024-04-01")
    assert "grr_12m" not in s.index  # four months of data: no 12-month figure is invented
    assert set(s.unit) == {"count", "currency", "ratio"}


def test_every_headline_kpi_is_defined_in_both_languages():
    """Report 02 defined the panel's metrics, and a reader found continuation rate and the revenue churn rates
    defined nowhere: every KPI the summary can hold has a sentence, in the summary's order."""
    every = ["customers", "mrr_total", "net_new_mrr", "logo_churn_rate", "revenue_churn_rate",
             "gross_revenue_churn_rate", "grr", "nrr", "grr_12m", "nrr_12m", "continuation_rate", "dau_mau",
             "active_account_rate"]
    summary = K.kpi_summary(ACCOUNTS, SUBS, PANEL, as_of=AS_OF)
    assert set(summary["kpi"]) <= set(every)
    for lang in ("en", "ja"):
        d = K.definitions_view(pd.DataFrame({"kpi": every}), lang)
        assert len(d) == len(every) and not d.iloc[:, 1].str.startswith("kpi_def.").any()
    d = K.definitions_view(summary, "en")
    assert d["KPI"].tolist() == [i18n.t(k, "en") for k in summary["kpi"]]
    assert d.set_index("KPI").loc["GRR", "definition"].endswith("(at most 100%)")


def test_contract_violations_raise():
    with pytest.raises(ValueError, match="start_date"):
        K.mrr_bridge(ACCOUNTS.drop(columns="start_date"))
    with pytest.raises(ValueError, match="period_start"):
        K.mrr_bridge(ACCOUNTS, SUBS.drop(columns="period_start"))
    with pytest.raises(ValueError, match="no complete month"):
        K.mrr_bridge(ACCOUNTS, SUBS, as_of="2024-01-15")


def test_missing_columns_and_accounts_without_mrr_are_counted_in_the_singular_and_the_plural(caplog):
    """The messages said "lacks the column(s) ['mrr']" and "1 account(s) without mrr count as 0 MRR"."""
    with pytest.raises(ValueError, match=r"^accounts lacks the column \['mrr'\]$"):
        K.monthly_mrr(ACCOUNTS.drop(columns="mrr"), SUBS, as_of=AS_OF)
    with pytest.raises(ValueError, match=r"^accounts lacks the columns \['end_date', 'mrr'\]$"):
        K.monthly_mrr(ACCOUNTS.drop(columns=["mrr", "end_date"]), SUBS, as_of=AS_OF)
    with pytest.raises(ValueError, match=r"^panel lacks the column \['user_days_28d'\]$"):
        K.engagement_over_time(PANEL.drop(columns="user_days_28d"))
    with pytest.raises(ValueError, match=r"^panel lacks the columns \['active_users_28d', 'user_days_28d'\]$"):
        K.engagement_over_time(PANEL.drop(columns=["user_days_28d", "active_users_28d"]))
    for n, said in ((1, "1 account without mrr counts"), (2, "2 accounts without mrr count")):
        caplog.clear()
        with caplog.at_level("WARNING", logger="engage_models.kpis.compute"):
            K.monthly_mrr(ACCOUNTS.assign(mrr=[np.nan] * n + [1.0] * (6 - n)), SUBS, as_of=AS_OF)
        assert [r.getMessage() for r in caplog.records] == [
            f"{said} as 0 MRR where no subscription row gives it"]


def test_docstring_examples_run():
    assert doctest.testmod(K).failed == 0


# ------------------------------------------------------------------------------------------- plots
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_waterfall_bars_add_up(lang):
    setup(lang)
    b = K.mrr_bridge(ACCOUNTS, SUBS, as_of=AS_OF)
    ax = K.plot_mrr_waterfall(b, lang=lang)
    bars = ax.patches
    assert len(bars) == 6
    # start 350; +140 new -> 490; +80 expansion -> 570; -80 contraction -> 490; -50 churn -> 440 = end
    assert [p.get_height() for p in bars] == [350, 140, 80, 80, 50, 440]
    assert [p.get_y() for p in bars] == [0, 350, 490, 490, 440, 0]
    labels = [x.get_text() for x in ax.get_xticklabels()]
    assert labels[1] == ("新規" if lang == "ja" else "new")
    plt.close("all")


def test_cohort_heatmap_has_one_cell_per_observable_cohort_month():
    c = K.cohort_retention(ACCOUNTS, SUBS, as_of=AS_OF)
    setup("ja")
    ax = K.plot_cohort_heatmap(c, lang="ja")
    mesh = ax.collections[0].get_array()
    assert mesh.size == 9 and mesh.count() == 6  # 3 x 3 grid, 3 censored cells left blank
    assert ax.get_ylabel() == "開始コホート"
    plt.close("all")


def test_trend_and_movement_plots():
    rr = K.revenue_retention(ACCOUNTS, SUBS, as_of=AS_OF)
    ax = K.plot_kpi_trend(rr, ["grr", "nrr"])
    assert len(ax.get_lines()) == 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["GRR", "NRR"]
    ax = K.plot_kpi_trend(K.logo_churn(ACCOUNTS, SUBS, as_of=AS_OF), "logo_churn_rate")
    assert len(ax.get_lines()) == 1 and len(ax.collections) == 1  # the line and its Wilson band
    # DAU/MAU (about 50%) was drawn in the active-account rate's band (83-97%), the frame's ci_low/ci_high
    over_time = K.engagement_over_time(pd.DataFrame({
        "account_id": ["a", "b", "a", "b"], "as_of": pd.to_datetime(["2024-01-31"] * 2 + ["2024-02-29"] * 2),
        "user_days_28d": [28, 14, 20, 0], "active_users_28d": [2, 1, 2, 0]}))
    assert len(K.plot_kpi_trend(over_time, "dau_mau", x="as_of").collections) == 0
    ax = K.plot_kpi_trend(over_time, "active_account_rate", x="as_of")
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert len(ax.collections) == 1 and band.min() == pytest.approx(over_time["ci_low"].min())
    ax = K.plot_mrr_movements(K.mrr_bridge(ACCOUNTS, SUBS, as_of=AS_OF))
    assert len(ax.patches) == 4 * 3
    assert [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")] == ["net new MRR"]
    plt.close("all")


# ------------------------------------------------------------------------------------------- simulated world
def test_simulated_world_churn_matches_the_simulators_record(small_ingested, truth):
    root, _ = small_ingested
    accounts, subs = K.load_tables(root / "processed")
    lc = K.logo_churn(accounts, subs)
    # The simulator records, for each account alive at a month's end, whether it churned the next month.
    th = pd.read_parquet(root / "raw" / "true_hazard.parquet")
    th = th[th.churned_next_month.notna()]
    rec = th.groupby("month").agg(at_risk=("account_id", "size"), churned=("churned_next_month", "sum"))
    rec.index = (rec.index + pd.DateOffset(months=1)).as_unit("ns")  # alive at the end of m, churned during m + 1
    got = lc.set_index("month")[["accounts_start", "churned"]]
    pd.testing.assert_frame_equal(got.rename(columns={"accounts_start": "at_risk"}), rec,
                                  check_dtype=False, check_names=False, check_freq=False)
    assert lc.churned.sum() == truth["realised"]["churn_events"]
    assert lc.accounts_start.sum() == truth["realised"]["account_months_at_risk"]
    # and the count per month is the number of end_dates in that month
    ends = accounts.end_date.dropna().dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    per_month = ends.value_counts()
    assert lc.churned.tolist() == [per_month.get(m.tz_localize(None).to_period("M"), 0) for m in lc.month]


def test_simulated_world_bridge_closes_on_the_subscription_table(small_ingested):
    root, _ = small_ingested
    accounts, subs = K.load_tables(root / "processed")
    b = K.mrr_bridge(accounts, subs)
    np.testing.assert_allclose(b.start_mrr + b.new + b.expansion - b.contraction - b.churn, b.end_mrr, atol=1e-6)
    # end MRR = the subscription rows of the month of the accounts the simulator had alive at the month's end
    th = pd.read_parquet(root / "raw" / "true_hazard.parquet")[["account_id", "month"]]
    alive = th.merge(subs.rename(columns={"period_start": "month"}), on=["account_id", "month"])
    assert len(alive) == len(th)
    expected = alive.groupby("month").mrr.sum()
    np.testing.assert_allclose(b.end_mrr, expected.loc[b.month].to_numpy(), rtol=1e-12)
    assert b.expansion.sum() > 0 and b.contraction.sum() > 0  # the simulator moves seats both ways
    rr = K.revenue_retention(accounts, subs)
    assert (rr.grr <= 1).all() and (rr.nrr >= rr.grr).all()


# ------------------------------------------------------------------------------------------- where the KPIs begin
def _with_a_mistyped_month(subs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The subscriptions without one account's first row (a customer month the account's next row fills), and the
    same with one more row of that account dated 1924 with an MRR no real row has."""
    firsts = subs.sort_values("period_start").drop_duplicates("account_id")
    later = firsts[firsts["period_start"] > subs["period_start"].min()].iloc[0]
    without = subs.drop(index=later.name)
    typo = later.to_frame().T.astype(subs.dtypes.to_dict()).assign(period_start=ts("1924-05-01"), mrr=99_999.0)
    return without, pd.concat([without, typo], ignore_index=True), later["account_id"]


def test_one_subscription_month_mistyped_as_1924_changes_no_kpi(small_ingested):
    """One subscription row dated 1924 made the KPI months begin then (a century of empty months in every monthly
    table and chart of report 02), and its MRR filled the account's months before its first real row. It is set
    aside: every KPI table is that of the world without it, and kpi_start says it."""
    root, _ = small_ingested
    accounts, subs = K.load_tables(root / "processed")
    without, typo, account = _with_a_mistyped_month(subs)
    for compute in (K.monthly_mrr, K.mrr_movements, K.mrr_bridge, K.revenue_retention, K.trailing_revenue_retention,
                    K.logo_churn, K.cohort_retention, K.continuation_rate, K.kpi_summary):
        pd.testing.assert_frame_equal(compute(accounts, typo), compute(accounts, without), obj=compute.__name__)
    assert K.mrr_bridge(accounts, typo)["month"].min() == K.mrr_bridge(accounts, subs)["month"].min()
    assert (K.monthly_mrr(accounts, typo).query("account_id == @account")["mrr"] != 99_999.0).all()
    first, said = K.kpi_start(accounts, typo)
    assert first == K.kpi_start(accounts, without)[0] == subs["period_start"].min()
    assert said == {"table": "subscriptions", "column": "period_start", "rows": 1, "total": len(typo),
                    "first": "1924-05-01", "last": "1924-05-01", "start": first.date().isoformat()}
    assert K.kpi_start(accounts, without)[1] is None


def test_an_account_start_mistyped_as_1924_does_not_move_the_kpi_months(small_ingested):
    """Without subscriptions the KPI months begin the month before the earliest start: one account started "1924"
    made them begin then. The account is left out of where they begin, and stays a customer."""
    root, _ = small_ingested
    accounts, _ = K.load_tables(root / "processed")
    typo = accounts.copy()
    typo.loc[typo.index[5], "start_date"] = ts("1924-05-01")
    assert K.logo_churn(typo)["month"].min() == K.logo_churn(accounts.drop(index=accounts.index[5]))["month"].min()
    first, said = K.kpi_start(typo)
    assert first == K.kpi_start(accounts.drop(index=accounts.index[5]))[0]
    assert (said["table"], said["column"], said["rows"], said["first"]) == ("accounts", "start_date", 1, "1924-05-01")
    churn = K.logo_churn(typo)
    assert churn["month"].min() == first + pd.DateOffset(months=1)
    assert churn["accounts_start"].iloc[0] == K.logo_churn(accounts, observed_from=first)["accounts_start"].iloc[0] + (
        accounts["start_date"].iloc[5] >= first + pd.DateOffset(months=1))  # the account counts from the first month


def test_the_kpis_stage_says_what_it_set_aside_and_report_02_shows_it(small_ingested, tmp_path):
    """The stage's info keeps the rows set aside; report 02's note names them, in both languages."""
    import json
    import shutil

    from engage_models.pipeline import RunConfig, stages
    from engage_models.pipeline.store import Output
    from test_monitoring import _artifact

    root, _ = small_ingested
    shutil.copytree(root / "processed", tmp_path / "processed")
    _, typo, _ = _with_a_mistyped_month(pd.read_parquet(tmp_path / "processed" / "subscriptions.parquet"))
    typo.to_parquet(tmp_path / "processed" / "subscriptions.parquet")
    config = RunConfig.from_dict({"data_dir": str(tmp_path)})
    ingest = _artifact(tmp_path / "ingest", "ingest", dates={"as_of": "2025-01-01"})
    out = Output(tmp_path / "kpis", "kpis")
    out.path.mkdir()
    stages.kpis(stages.Context(config, {"ingest": ingest}, out, absent={"panel": "no panel here"}))
    info = json.loads((out.path / "info.json").read_text(encoding="utf-8"))
    assert [x["first"] for x in info["set_aside"]] == ["1924-05-01"]
    assert pd.Timestamp(info["observed_from"]) == typo["period_start"].sort_values().iloc[1]
    note = K.start_note(info, "en")
    assert note.startswith("Set aside from the KPIs: 1 subscription row dated 1 May 1924 (period_start)")
    assert "The KPIs are observed from Jan 2024" in note
    assert "1924年5月1日" in K.start_note(info, "ja") and "KPIから除外" in K.start_note(info, "ja")
    assert K.start_note({"observed_from": info["observed_from"], "set_aside": []}) == "" == K.start_note(None)
    assert pd.read_parquet(out.path / "mrr_bridge.parquet")["month"].min() == ts("2024-02-01")


def _header_only_events_world(root):
    """The tiny world's accounts and subscriptions as raw files, with events, tickets, touchpoints and surveys of
    their header alone (a purchase log's user, with no activity table)."""
    raw = root / "raw"
    raw.mkdir()
    day = lambda s: s.dt.strftime("%Y-%m-%d")  # noqa: E731
    ACCOUNTS.assign(name=ACCOUNTS["account_id"], start_date=day(ACCOUNTS["start_date"]),
                    end_date=day(ACCOUNTS["end_date"])).to_csv(raw / "accounts.csv", index=False)
    SUBS.assign(period_start=day(SUBS["period_start"])).to_csv(raw / "subscriptions.csv", index=False)
    for table, header in (("events", "account_id,user_id,timestamp,event_type,feature"),
                          ("tickets", "ticket_id,account_id,opened_at,closed_at,priority"),
                          ("touchpoints", "account_id,timestamp,channel"),
                          ("surveys", "response_id,account_id,user_id,submitted_at,survey_type,trigger,score")):
        (raw / f"{table}.csv").write_text(header + "\n", encoding="utf-8")  # the header alone


def test_a_header_only_events_file_leaves_the_kpis_accounts_and_subscriptions_allow(tmp_path):
    """A purchase log with a header-only events file: report 02 showed no KPI, though the accounts and
    subscriptions alone give the customers, logo churn, MRR and NRR/GRR. They are computed (on the tiny world's
    known answers), and the KPIs measured from the events are said to be missing, with why."""
    from engage_models.ingest import ingest
    from engage_models.pipeline import RunConfig, stages
    from engage_models.pipeline.store import Output
    from test_monitoring import _artifact

    _header_only_events_world(tmp_path)
    raw = tmp_path / "raw"
    report = ingest(raw, tmp_path / "processed", now="2024-06-01")
    assert report.tables["events"].rows_kept == 0 and report.tables["accounts"].rows_kept == 6
    accounts, subscriptions = K.load_tables(tmp_path / "processed")
    as_of = K.default_as_of(accounts, subscriptions)
    assert as_of == ts(AS_OF)  # the close of the last subscription month: no last event to take it from

    config = RunConfig.from_dict({"data_dir": str(tmp_path)})
    ingest_art = _artifact(tmp_path / "ingest", "ingest", dates={"as_of": as_of.isoformat()})
    out = Output(tmp_path / "kpis", "kpis")
    out.path.mkdir()
    why = "the events table is empty: there is no activity to measure"
    stages.kpis(stages.Context(config, {"ingest": ingest_art}, out, absent={"panel": why}))
    summary = pd.read_parquet(out.path / "summary.parquet").set_index("kpi")
    assert {"customers", "mrr_total", "logo_churn_rate", "grr", "nrr"} <= set(summary.index)
    assert not set(K.EVENT_KPIS) & set(summary.index)
    assert summary.loc["customers", "value"] == 4 and summary.loc["mrr_total", "value"] == 440.0  # April's close
    assert summary.loc["logo_churn_rate", "value"] == 0.0  # F started and left inside April, never at a close
    assert summary.loc["nrr", "value"] == pytest.approx(440 / 410)  # March's customers, E up 30
    for name in ("logo_churn", "revenue_retention", "mrr_bridge", "cohorts"):
        assert (out.path / f"{name}.parquet").exists()
    note = K.events_note(summary.reset_index(), why, "en")
    assert note.startswith("Measured from the events, so not computed: DAU/MAU, active-account rate (the events "
                           "table is empty: there is no activity to measure).")
    assert "DAU/MAU（定着度）、アクティブ顧客率" in K.events_note(summary.reset_index(), "理由。", "ja")
    assert "（理由）" in K.events_note(summary.reset_index(), "理由。", "ja")


def test_a_header_only_events_file_does_not_stop_the_run_at_ingest(tmp_path):
    """The ingest stage took its observation date from the last event: with none, it stopped the run, and every
    report (02's KPIs among them) said "the events table is empty". The date is the close of the last subscription
    month (or the configured one); report 01's events chart says why it has none."""
    import json

    from engage_models.pipeline import RunConfig, stages
    from engage_models.pipeline.store import Output

    _header_only_events_world(tmp_path)
    config = RunConfig.from_dict({"data_dir": str(tmp_path), "run_date": "2024-06-01"})
    outs = {}
    for name in ("ingest", "quality"):
        outs[name] = Output(tmp_path / name, name)
        outs[name].path.mkdir()
        getattr(stages, name)(stages.Context(config, {}, outs[name]))
    dates = json.loads((tmp_path / "ingest" / "dates.json").read_text(encoding="utf-8"))
    assert dates["as_of"].startswith(AS_OF) and dates["first_event"] is None and dates["last_event"] is None
    assert not (tmp_path / "quality" / "events_per_day.parquet").exists()
    assert [(x.section, x.reason) for x in outs["quality"].skipped if x.section == "events_per_day"] == [
        ("events_per_day", "the events table is empty: there is no activity to measure")]
    from engage_models.ingest.quality import data_dates

    assert data_dates(tmp_path / "processed", "2024-04-01")["as_of"].startswith("2024-04-01")  # the date given
    # report 01 says where the date came from and which checks were not made (it said all was well); the panel stage
    # says why it has nothing without the machine's path to the events file (run.json held it 120 times)
    from engage_models._core.errors import InsufficientData
    from engage_models._core.io import write_json
    from engage_models._core.reasons import text
    from engage_models.ingest.quality import date_notes
    from engage_models.pipeline.store import Artifact

    notes = date_notes(dates, "en")
    assert notes[0].startswith("The events table has no rows (its file holds the header alone): the observation "
                               "date ") and "were not made" in notes[0]
    assert date_notes(dates, "ja")[0].startswith("イベント表に行がありません")
    write_json(tmp_path / "ingest" / "manifest.json", {"stage": "ingest", "key": "k", "files": outs["ingest"].files,
                                                       "skipped": []})
    panel = Output(tmp_path / "panel", "panel")
    panel.path.mkdir()
    with pytest.raises(InsufficientData) as caught:
        stages.panel(stages.Context(config, {"ingest": Artifact(tmp_path / "ingest")}, panel))
    said = text(caught.value.why, "en")
    assert said == "the events table has no rows (its file holds the header alone): no activity to build the panel " \
        "from" and str(tmp_path) not in said
