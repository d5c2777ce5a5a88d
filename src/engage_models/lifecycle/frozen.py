"""A trained health model as a folder that names itself: the model, its card, and the rows it learned from.

:func:`save_frozen` writes ``<folder>/<model_id>/`` holding

* ``model.skops``: the fitted card (:mod:`engage_models.health.model_io`: loads without running code);
* ``card.json``: what the model is (training window and cutoff, rows, accounts, churners, features and their
  transforms, the learned card, the backtest with intervals, thresholds, library versions) and ``model_id``;
* ``card.html``: the same, short, as a self-contained page (every text escaped, no machine path);
* ``reference.parquet``: the training rows (``account_id``, ``as_of``, the model's features and the label), what
  drift monitoring compares today's panel with.

``model_id`` is a content hash of ``model.skops`` and of the card: a changed file is a different model. The hash
of the skops file is taken over its *content* (the schema with skops' memory-address ids renumbered in order,
and the arrays' bytes), not over the zip's bytes, which carry write times and addresses: the same fitted model
saved twice has one id.

:func:`load_frozen` reads a folder back (or the ``current`` model of a models folder, see
:mod:`engage_models.lifecycle.store`), refusing a folder whose files do not match the card's hashes, and checks
that this environment can read the model (:class:`~engage_models._core.errors.ConfigError` otherwise);
:meth:`FrozenModel.check` refuses a panel the model cannot score (another horizon, a missing feature).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.errors import ConfigError, DataError
from .._core.i18n import count
from .._core.io import jsonable, read_json, write_json, write_parquet, write_text
from .._core.time import same_clock, to_utc

log = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
CARD_HTML = "card.html"
REFERENCE_FILE = "reference.parquet"
FILES = (MODEL_FILE, CARD_FILE, CARD_HTML, REFERENCE_FILE)
LABEL = "churned_within_h"
#: card.json's layout; a folder written with a later layout is refused by an older package. 2: the calendar
#: is always written (a layout-1 card without one was UTC, or a model of the versions that did not record it),
#: each metric's definition digest is kept (``definitions``), rare levels may be pooled (``pooled``).
CARD_VERSION = 2
#: Libraries recorded in the card (interpret only when the model uses it).
LIBRARIES = ("engage_models", "scikit-learn", "numpy", "pandas", "scipy", "skops", "interpret-core")
#: Fields of the card left out of the model id (they say when and by which build of the package, not what: the
#: same model trained again by changed code keeps its id and folder).
NOT_HASHED = ("model_id", "created", "code")
#: :meth:`FrozenModel.blank_features`: the chance below which every account at one value is a broken feed, not
#: a month like one the model saw.
BLANK_CHANCE = 1e-6
#: ... and the fewest accounts at a date it judges: one account has "one value for every account" whatever it holds
#: (a usage of 12.34, never seen exactly in training, stopped the run).
BLANK_MIN_ACCOUNTS = 5


# ------------------------------------------------------------------------------------------------ hashing
def skops_digest(path: str | Path) -> str:
    """SHA-256 of a skops file's content: its schema with skops' object ids (memory addresses) renumbered by
    first appearance and each array file replaced by the hash of its bytes."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            schema = json.loads(z.read("schema.json"))
            ids: dict = {}

            def canon(obj):
                if isinstance(obj, dict):
                    out = {}
                    for k, v in obj.items():
                        if k == "__id__":
                            out[k] = ids.setdefault(v, len(ids))
                        elif k == "file" and isinstance(v, str):
                            out[k] = hashlib.sha256(z.read(v)).hexdigest()
                        else:
                            out[k] = canon(v)
                    return out
                if isinstance(obj, list):
                    return [canon(v) for v in obj]
                return obj

            content = canon(schema)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DataError(f"{path.name}: not a readable skops model file ({exc})") from None
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def frame_digest(df: pd.DataFrame) -> str:
    """SHA-256 of a table's columns and values (not of its Parquet bytes)."""
    h = hashlib.sha256(json.dumps([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df.apply(_significant), index=False).to_numpy().tobytes())
    return h.hexdigest()


def _significant(col: pd.Series, digits: int = 10) -> pd.Series:
    """Floats to ``digits`` significant digits: the panel's sums run in parallel (DuckDB), so the same data give
    values that differ in the last bits from one build to the next."""
    if col.dtype.kind != "f":
        return col
    v = col.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where((v == 0) | ~np.isfinite(v), 0, np.floor(np.log10(np.abs(v))))
    scale = 10.0 ** (digits - 1 - mag)
    return pd.Series(np.where(np.isfinite(v), np.round(v * scale) / scale, v), index=col.index)


def model_id_of(card: dict) -> str:
    """The id of a card (which holds its files' hashes): 16 hex digits of the hash of its content."""
    content = {k: v for k, v in card.items() if k not in NOT_HASHED}
    return hashlib.sha256(json.dumps(jsonable(content), sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ the card
def _code_version() -> str:
    from ..pipeline.store import code_version  # the stage keys' hash of the source files

    return code_version()


def library_versions(form: str | None = None) -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        if lib == "interpret-core" and form != "shape":
            continue
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            if lib == "engage_models":
                from .. import __version__

                out[lib] = __version__
    return out


def model_features(model) -> list[dict]:
    """The model's input columns and what it does to each before scoring."""
    metrics, categorical = list(getattr(model, "metrics_", [])), list(getattr(model, "categorical_", []))
    design = getattr(getattr(model, "fitted_", None), "design", None)
    out = []
    if design is not None:  # the linear card: SkewScaler (after monotone bins, if asked), one-hot categories
        sc = design.scaler
        for c in metrics:
            steps = ["monotone bins (weight of evidence)"] if design.binner is not None else []
            if c in getattr(sc, "log_columns_", []):
                steps.append("log1p")
            elif c in getattr(sc, "signed_log_columns_", []):
                steps.append("signed log1p")
            steps.append("z-score")
            group = next((g for g in getattr(sc, "groups_", []) if c in g), [c])
            entry = {"name": c, "kind": "numeric", "transform": ", ".join(steps),
                     "missing": f"median {sc.medians_[c]:.6g}" + (" + indicator" if c in sc.missing_columns_ else ""),
                     "mean": sc.means_.get(c), "scale": sc.scales_.get(c)}
            if len(group) > 1:
                entry["grouped_with"] = [g for g in group if g != c]
            out.append(entry)
        for c in categorical:
            entry = {"name": c, "kind": "categorical", "transform": "one-hot", "levels": design.levels.get(c, [])}
            if getattr(design, "pooled", {}).get(c):  # levels of too few accounts, sharing the "__other__" weight
                entry["pooled"] = design.pooled[c]
            out.append(entry)
        return out
    for c in metrics:  # the shape card: ranges with points
        out.append({"name": c, "kind": "numeric", "transform": "ranges with points (missing: own range)"})
    for c in categorical:
        out.append({"name": c, "kind": "categorical", "transform": "points per level"})
    return out


def reference_rows(model, panel_rows: pd.DataFrame) -> pd.DataFrame:
    """The training rows as the reference of drift monitoring: ids, date, the model's features, the label."""
    features = [f["name"] for f in model_features(model)]
    cols = [c for c in ("account_id", "as_of", *features, LABEL) if c in panel_rows.columns]
    return panel_rows[cols].sort_values(["account_id", "as_of"], kind="stable").reset_index(drop=True)


def save_frozen(model, folder: str | Path, *, panel_rows: pd.DataFrame, info: dict) -> Path:
    """Write ``model`` with its card and reference rows into ``folder/<model_id>/``; returns that folder.

    Parameters
    ----------
    model : fitted HealthScore or ShapeScore
    folder : the models folder (the model's own folder, named by its id, is made inside it)
    panel_rows : the panel rows the model was fitted on (with ``account_id``, ``as_of`` and the label)
    info : what the card says beyond the model itself: ``form``, ``horizon_days``, ``cutoff`` (the training
        run's observation date), ``thresholds``, ``backtest`` (the health stage's backtest_metrics records, or
        None with ``backtest_reason``), ``model_info`` (the health stage's model.json), ``scorecard`` (records).
    """
    from ..health.model_io import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{hashlib.sha256(str(id(model)).encode()).hexdigest()[:8]}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        save_model(model, staging / MODEL_FILE)
        reference = reference_rows(model, panel_rows)
        write_parquet(reference, staging / REFERENCE_FILE)
        labels = panel_rows[LABEL].astype(int)
        card = {
            "card_version": CARD_VERSION,
            "created": pd.Timestamp.now(tz="UTC"),
            "form": info.get("form"),
            "horizon_days": int(info["horizon_days"]),
            "timezone": info.get("timezone") or "UTC",  # the calendar its panel was counted on
            "training": {"first_as_of": panel_rows["as_of"].min(), "last_as_of": panel_rows["as_of"].max(),
                         "cutoff": info.get("cutoff"), "rows": len(panel_rows),
                         "accounts": int(panel_rows["account_id"].nunique()),
                         "churners": int(panel_rows.loc[labels == 1, "account_id"].nunique()),
                         "churned_rows": int(labels.sum())},
            "features": model_features(model),
            # how each metric was computed (features.metrics.definition): a later package that computes one
            # otherwise refuses to score this model with it (check_run_settings)
            "definitions": _definitions(model, info.get("windows")),
            "scorecard": info.get("scorecard"),
            "scorecard_attrs": info.get("scorecard_attrs"),
            "backtest": info.get("backtest"),
            "backtest_reason": info.get("backtest_reason"),
            "thresholds": info.get("thresholds"),
            "model_info": info.get("model_info"),
            "versions": library_versions(info.get("form")),
            # the package's source files that trained it (the pipeline's code_version): a version number stays
            # the same across the commits of a development install
            "code": _code_version(),
            "files": {MODEL_FILE: skops_digest(staging / MODEL_FILE), REFERENCE_FILE: frame_digest(reference)},
        }
        card = jsonable(card)
        card["model_id"] = model_id_of(card)
        write_json(staging / CARD_FILE, card)
        write_text(staging / CARD_HTML, card_html(card))
        final = folder / card["model_id"]
        if final.exists():  # the same model already kept: its folder stays as it is
            return final
        staging.rename(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _definitions(model, windows) -> dict[str, str]:
    from ..features import metrics as M

    numeric = [f["name"] for f in model_features(model) if f["kind"] == "numeric"]
    return M.definition_digests(numeric, tuple(windows) if windows else M.DEFAULT_WINDOWS)


def card_html(card: dict) -> str:
    """The card as a short self-contained HTML page (escaped; no machine path)."""
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
    tr = card.get("training", {})
    rows = [("model id", card.get("model_id")), ("created", card.get("created")),
            ("package code (hash of its source)", card.get("code")), ("form", card.get("form")),
            ("horizon (days)", card.get("horizon_days")),
            ("training observation dates", f"{tr.get('first_as_of')} .. {tr.get('last_as_of')}"),
            ("cutoff (data until)", tr.get("cutoff")), ("rows", tr.get("rows")), ("accounts", tr.get("accounts")),
            ("churned accounts", tr.get("churners")),
            ("thresholds (yellow, red)", json.dumps(card.get("thresholds")))]
    facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    bt = card.get("backtest") or []
    if bt:
        backtest = "".join(f"<tr><td>{e(r.get('model'))}</td><td>{e(r.get('metric'))}</td>"
                           f"<td>{_num(r.get('estimate'))}</td><td>{_num(r.get('ci_low'))} .. {_num(r.get('ci_high'))}"
                           "</td></tr>" for r in bt)
        backtest = ("<table><tr><th>model</th><th>metric</th><th>estimate</th><th>95% interval</th></tr>"
                    f"{backtest}</table>")
    else:
        backtest = f"<p>{e(card.get('backtest_reason') or 'no backtest')}</p>"
    feats = "".join(f"<tr><td>{e(f['name'])}</td><td>{e(f['kind'])}</td><td>{e(f['transform'])}</td></tr>"
                    for f in card.get("features", []))
    sc = card.get("scorecard") or []
    label = lambda r: r.get("label_en", r.get("label", r.get("feature")))  # noqa: E731
    score_rows = "".join(f"<tr><td>{e(label(r))}</td><td>{_num(r.get('weight'))}</td>"
                         f"<td>{_num(r.get('points_range', r.get('points')))}</td></tr>" for r in sc[:25])
    versions = ", ".join(f"{e(k)} {e(v)}" for k, v in card.get("versions", {}).items())
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Health model {e(card.get('model_id'))}</title><style>body{{font-family:sans-serif;"
            "max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:2px 6px;text-align:left}</style></head><body>"
            f"<h1>Health model {e(card.get('model_id'))}</h1><table>{facts}</table>"
            f"<h2>Backtest (out of time)</h2>{backtest}"
            "<h2>The learned card</h2><table><tr><th>feature</th><th>weight</th><th>points range</th></tr>"
            f"{score_rows}</table><h2>Features</h2><table><tr><th>column</th><th>kind</th><th>transform</th></tr>"
            f"{feats}</table><h2>Libraries</h2><p>{versions}</p></body></html>")


def _num(v) -> str:
    try:
        return html.escape(f"{float(v):.4g}")
    except (TypeError, ValueError):
        return ""


# ------------------------------------------------------------------------------------------------ loading
def data_end_of(cutoff, trained_until):
    """Where the data a model saw ended: its ``cutoff``, else (a card or record without one) its last training date
    ``trained_until`` (:attr:`FrozenModel.data_end`; the monitoring's, report 08's and the scoring run's too).

    >>> data_end_of("2025-01-01", "2024-10-03"), data_end_of(None, "2024-10-03"), data_end_of(float("nan"), "x")
    ('2025-01-01', '2024-10-03', 'x')
    """
    return trained_until if cutoff is None or (not isinstance(cutoff, str) and pd.isna(cutoff)) else cutoff


def saw_later(data_end, as_of) -> bool:
    """Whether a model whose data ended at ``data_end`` (its card's cutoff, else its last training date:
    :attr:`FrozenModel.data_end`) saw data after the observation date ``as_of``: it learned outcomes not known on
    that date, so its scores there are not those a run then could have given, and whether it held then is not
    judged. False without ``data_end``.

    The one rule for the scoring stage's warning, the retrain policy's backfill, the model a backfill scores with
    and the monitoring's ``later``. It compares the two moments, both as UTC (a naive value is read as UTC, an
    aware one converted, as everywhere in the package): the same day is not later, a day after is, and so is an
    hour after (the model saw that hour's events; a run on ``as_of`` sees only what happened before it). The
    monitoring counted it by whole days, ``(as_of - data_end).days < 0``, which is the same test (a timedelta's
    days round down: an hour before is day -1); a card's cutoff and a run's date are midnights of the company's
    calendar (wall-clock time labelled UTC, :mod:`engage_models._core.time`), so both read the same day alike.

    >>> saw_later("2025-01-01", "2025-01-01"), saw_later("2025-01-02", "2025-01-01"), saw_later(None, "2025-01-01")
    (False, True, False)
    >>> saw_later("2025-01-01T08:00:00+09:00", "2024-12-31"), saw_later("2025-01-01T08:00:00+09:00", "2025-01-01")
    (True, False)
    """
    return data_end is not None and not pd.isna(data_end) and bool(to_utc(data_end) > to_utc(as_of))


def age_days(data_end, as_of) -> int:
    """Whole days from where the model's data ended to ``as_of`` (negative for a model that saw later data:
    :func:`saw_later`), as the monitoring and report 08 count a model's age.

    >>> age_days("2025-01-01", "2025-07-01"), age_days("2025-07-02", "2025-07-01")
    (181, -1)
    """
    return int((to_utc(as_of) - to_utc(data_end)).days)


def past_age_limit(data_end, as_of, max_age_days) -> bool:
    """Whether the data the model saw ended more than ``max_age_days`` (``monitoring.max_age_days``) before
    ``as_of``: the monitoring's age reason to retrain, report 08's header and the scoring run's warning read this
    one rule. False without ``data_end`` or a limit.

    >>> past_age_limit("2025-01-01", "2025-07-01", 180), past_age_limit("2025-01-01", "2025-06-30", 180)
    (True, False)
    """
    if data_end is None or pd.isna(data_end) or max_age_days is None:
        return False
    return age_days(data_end, as_of) > max_age_days


def _same(column: pd.Series, value) -> pd.Series:
    """Rows of ``column`` holding ``value``: empty for an empty value, by number when both are numbers (a count
    stored as int in training and as float today, one panel row missing, is the same 0: compared as text, "0" and
    "0.0" differed and every account at 0 was taken for a broken feed), else by text."""
    if pd.isna(value):
        return column.isna()
    if pd.api.types.is_number(value) and pd.api.types.is_numeric_dtype(column):
        return pd.Series(np.isclose(column.to_numpy(float), float(value), rtol=0.0, atol=1e-12), index=column.index)
    return column.astype("string") == str(value)


@dataclass
class FrozenModel:
    """A model folder read back: ``model`` (the fitted card), ``card`` (card.json), ``model_id``, ``folder``,
    ``reference`` (the training rows, read on first use) and :meth:`check`."""

    folder: Path
    card: dict
    model: object
    _reference: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def model_id(self) -> str:
        return self.card["model_id"]

    @property
    def form(self) -> str:
        return self.card.get("form") or "linear"

    @property
    def horizon_days(self) -> int:
        return int(self.card["horizon_days"])

    @property
    def features(self) -> list[str]:
        return [f["name"] for f in self.card["features"]]

    @property
    def trained_until(self) -> pd.Timestamp:
        """The last observation date of the training rows (its labels had matured by the cutoff)."""
        return pd.Timestamp(self.card["training"]["last_as_of"])

    @property
    def cutoff(self) -> pd.Timestamp | None:
        """The training run's observation date: the data the model saw ended here."""
        c = self.card["training"].get("cutoff")
        return pd.Timestamp(c) if c is not None else None

    @property
    def data_end(self) -> pd.Timestamp:
        """Where the data the model saw ended: its cutoff, else (a card without one) its last training date."""
        return data_end_of(self.cutoff, self.trained_until)

    @property
    def reference(self) -> pd.DataFrame:
        if self._reference is None:
            self._reference = pd.read_parquet(self.folder / REFERENCE_FILE)
        return self._reference

    def check(self, panel: pd.DataFrame, horizon_days: int) -> None:
        """Refuse to score ``panel`` with this model when it would be wrong: another label horizon
        (:class:`ConfigError`) or a feature the panel lacks (:class:`DataError` naming them)."""
        if int(horizon_days) != self.horizon_days:
            raise ConfigError(f"model {self.model_id} was trained for a {self.horizon_days}-day churn horizon; "
                              f"this run asks for {horizon_days} days: its probabilities and bands would mean another "
                              f"thing (run with horizon_days={self.horizon_days}, or train a model for "
                              f"{horizon_days} days)")
        missing = [f for f in self.features if f not in panel.columns]
        if missing:
            raise DataError(f"the panel lacks {count(len(missing), '=a feature', '=features')} model {self.model_id} "
                            f"was trained on: {', '.join(missing)} "
                            "(build the panel with the same windows and tables, or train a new model)")

    def blank_features(self, rows: pd.DataFrame) -> dict[str, dict]:
        """Features that take one value (or are empty) for every account at a date of ``rows`` where the training rows
        were spread: ``{"usage_hours_28d": {"value": 0.0, "dates": [...], "accounts": 136, "training_share": 0.068}}``.
        A metric whose source column is missing, renamed or empty in an export reads 0 (a count) or empty for everyone,
        and the model would score every account on a value no training date came near having for all its accounts,
        without a word. Such a value is taken for a broken feed when, had the accounts been drawn like those of the
        training date where that value was commonest (``training_share`` of its rows), all of them having it has a
        chance below :data:`BLANK_CHANCE`: a quarterly webinar's attendance, 0 for everyone in a month the model also
        saw, or five accounts without a ticket, are not. Dates before the first training date are not judged: the data's
        first months may lack a metric for want of history (no NPS answer yet), and a model scoring them says already
        that it learned later outcomes; nor are dates off the training rows' calendar (a mid-month run's window)."""
        ref = self.reference
        if rows.empty or "as_of" not in ref.columns or ref.empty:
            return {}
        first, when = to_utc(ref["as_of"].min()), to_utc(rows["as_of"])
        # only the dates on the training rows' calendar (the days of the month they have: the panel's month starts):
        # a weekly run's 28-day window mid-month can miss a monthly newsletter for everyone, as a window from a
        # month start never does
        rows = rows[(when >= first) & when.dt.day.isin(set(to_utc(ref["as_of"]).dt.day))]
        out: dict[str, dict] = {}
        for name in self.features:
            if name not in rows.columns or name not in ref.columns:
                continue
            for date, at in rows.groupby("as_of", sort=True):
                values = at[name]
                accounts = int(at["account_id"].nunique())
                if values.nunique(dropna=False) != 1 or accounts < BLANK_MIN_ACCOUNTS:
                    continue
                value = values.iloc[0]
                share = float(_same(ref[name], value).groupby(ref["as_of"]).mean().max())
                if share ** accounts >= BLANK_CHANCE:
                    continue
                entry = out.setdefault(name, {"value": None if pd.isna(value) else value, "dates": [],
                                              "accounts": 0, "training_share": share})
                entry["dates"].append(pd.Timestamp(date))
                entry["accounts"] = max(entry["accounts"], accounts)
                entry["training_share"] = max(entry["training_share"], share)
        return out

    def unseen_levels(self, rows: pd.DataFrame) -> dict[str, dict[str, int]]:
        """Levels of the model's categorical features in ``rows`` that its training rows never had, with the
        number of accounts at each (``{"plan": {"Platinum": 40}}``): the model scores them as no level at all
        (the linear card's one-hot columns all 0, or its pool of rare levels when it has one; the shape card's
        points 0), which the run says. A level the training rows had too few accounts of (pooled) was seen."""
        out: dict[str, dict[str, int]] = {}
        for f in self.card["features"]:
            name = f["name"]
            if f.get("kind") != "categorical" or name not in rows.columns:
                continue
            seen = (set(f["levels"]) | set(f.get("pooled", [])) if f.get("levels") else
                    set(self.reference[name].dropna().astype(str)) if name in self.reference.columns else None)
            if seen is None:
                continue
            values = rows[name].astype("string")
            new = rows[values.notna() & ~values.isin(seen)]
            if not new.empty:
                counts = new.groupby(new[name].astype(str))["account_id"].nunique()
                out[name] = {str(k): int(v) for k, v in counts.sort_values(ascending=False).items()}
        return out


def resolve(folder: str | Path) -> Path:
    """A model's folder: ``folder`` itself, or the current model of a models folder (its ``current.json``)."""
    from .store import ModelStore

    folder = Path(folder).expanduser()
    if (folder / CARD_FILE).is_file():
        return folder
    store = ModelStore(folder)
    if store.pointer.is_file():
        current = store.current_id()
        if current is not None:
            return store.folder(current)
    if not folder.exists():
        raise ConfigError(f"model folder {folder} does not exist")
    raise ConfigError(f"{folder} is neither a model folder (no {CARD_FILE}) nor a models folder with a current model")


def load_frozen(folder: str | Path) -> FrozenModel:
    """The model saved by :func:`save_frozen` in ``folder`` (or the current one of a models folder).

    Raises :class:`DataError` when a file is missing or does not match the card's hash (a tampered or damaged
    folder) and :class:`ConfigError` when this environment cannot be trusted to read it (another major version
    of this package, another scikit-learn minor version, a newer card layout)."""
    from ..health.model_io import load_model

    folder = resolve(folder)
    card = verify_frozen(folder)
    return FrozenModel(folder, card, load_model(folder / MODEL_FILE))


def check_run_settings(card: dict, horizon_days: int, windows: tuple[int, ...], timezone: str = "UTC") -> None:
    """Refuse, before any stage runs, the settings a model cannot score under (ConfigError): another churn
    horizon, trailing windows that would leave out a metric it was trained on (a model of ``logins_90d``
    with ``windows: [28]``), or another calendar (its days and months counted elsewhere: a scheduled scoring job
    that forgot ``--timezone``). What depends on the data (a table the panel will not have) is checked on the panel
    (:meth:`FrozenModel.check`)."""
    from ..features import metrics as M

    mid = card.get("model_id")
    if int(card.get("horizon_days", horizon_days)) != int(horizon_days):
        raise ConfigError(f"model {mid} was trained for a {card['horizon_days']}-day churn horizon; this run asks "
                          f"for {horizon_days} days: its probabilities and bands would mean another thing (run "
                          f"with horizon_days={card['horizon_days']}, or train a model for {horizon_days} days)")
    trained_on = card.get("timezone") or ("UTC" if int(card.get("card_version", 1)) >= 2 else None)
    if trained_on is None and not same_clock("UTC", timezone):  # a layout-1 card left UTC, and some every zone, out
        raise ConfigError(f"model {mid} does not say which calendar it was trained on (its card was written by an "
                          f"older engage-models, which left the calendar out for UTC models and, in some versions, "
                          f"for every model); this run counts days and months in {timezone}: train a new model on "
                          f"{timezone} (engage train), or run with timezone UTC if the model was trained on UTC")
    if trained_on is not None and not same_clock(trained_on, timezone):
        raise ConfigError(f"model {mid} was trained on the calendar of {trained_on}; this run counts days and months "
                          f"in {timezone}: run with timezone {trained_on}, or train a model on {timezone}")
    have = set(M.expand(M.windows_for(tuple(windows))))
    wanted: dict[int, list[str]] = {}
    for f in card.get("features") or ():
        name = f.get("name", "")
        for days in sorted({int(d) for d in re.findall(r"_(\d+)d\b", name)}):
            if name not in have and days not in windows and name in M.expand(M.windows_for(tuple({*windows, days}))):
                wanted.setdefault(days, []).append(name)
    if wanted:
        need = sorted({*windows, *wanted})
        raise ConfigError(f"model {mid} was trained on metrics of {', '.join(f'{d}-day' for d in wanted)} windows "
                          f"({', '.join(n for names in wanted.values() for n in names)}), which this run's windows "
                          f"{list(windows)!r} leave out: run with windows {need!r}, or train a new model")
    if "definitions" in card:
        now = M.definition_digests(list(card["definitions"]), tuple(windows))
        changed = sorted(c for c, d in card["definitions"].items() if now.get(c) != d)
        if changed:
            raise ConfigError(f"model {mid} was trained on metrics this version of engage-models computes otherwise "
                              f"({', '.join(changed)}: their definitions changed since the model was saved, or the "
                              f"windows {list(windows)!r} give them another window): its weights would be applied to "
                              f"other numbers; train a new model (engage train)")
    elif not _warned_definitions.get(mid):
        _warned_definitions[mid] = True
        log.warning("model %s was saved by an older engage-models that did not record how its metrics were computed: "
                    "nothing shows whether a metric was redefined since (after an upgrade, train a new model to be "
                    "sure; a model trained now is checked)", mid)


_warned_definitions: dict[str, bool] = {}  # an old card's warning, once a process


def verify_frozen(folder: str | Path) -> dict:
    """The card of the model in ``folder`` (or the current one of a models folder), once its files are checked
    against it: every file there, the card readable and matching its id, ``model.skops`` and the reference rows
    matching their hashes, this environment able to read it (the errors of :func:`load_frozen`). The model is
    not loaded: the pipeline checks a model before any stage runs and on every run, also when the health stage
    is read back (a damaged folder would otherwise go unnoticed until the data changed). A folder whose files
    are unchanged (times and sizes) since it was last checked in this process is not hashed again."""
    folder = resolve(folder)
    missing = [f for f in (MODEL_FILE, CARD_FILE, REFERENCE_FILE) if not (folder / f).is_file()]
    if missing:
        raise DataError(f"model folder {folder.name}: missing {', '.join(missing)}")
    stamp = tuple((f, (folder / f).stat().st_mtime_ns, (folder / f).stat().st_size)
                  for f in (MODEL_FILE, CARD_FILE, REFERENCE_FILE))
    return copy.deepcopy(_verified(str(folder), stamp))


@functools.lru_cache(maxsize=8)
def _verified(path: str, stamp: tuple) -> dict:
    """:func:`verify_frozen`'s checks of the folder ``path`` as ``stamp`` (its files' times and sizes) finds it."""
    folder = Path(path)
    try:
        card = read_json(folder / CARD_FILE)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"model folder {folder.name}: {CARD_FILE} is not readable JSON ({exc}): the folder was "
                        "changed or damaged; use another model or train one") from None
    if not isinstance(card, dict) or not isinstance(card.get("files"), dict):
        raise DataError(f"model folder {folder.name}: {CARD_FILE} is not a model card (no 'files')")
    version = card.get("card_version", 0)
    if isinstance(version, float) and version.is_integer():  # 2.0, as a JSON tool may write 2
        card["card_version"] = version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"model folder {folder.name}: {CARD_FILE}'s card_version is {card.get('card_version')!r}, "
                        "not a whole number (edited?): the folder was changed; use another model or train one")
    if card.get("card_version", 0) > CARD_VERSION:
        raise ConfigError(f"model {card.get('model_id')}: its card has layout {card.get('card_version')}; this "
                          f"package reads up to {CARD_VERSION}: upgrade engage-models")
    if model_id_of(card) != card.get("model_id"):
        raise DataError(f"model folder {folder.name}: card.json does not match its model id (edited?)")
    try:
        digest = skops_digest(folder / MODEL_FILE)
    except DataError as exc:
        raise DataError(f"model folder {folder.name}: {exc}") from None
    if digest != card["files"].get(MODEL_FILE):
        raise DataError(f"model {card['model_id']}: model.skops does not match the hash in its card (the file was "
                        "changed or damaged): refusing to score with it")
    try:
        reference = pd.read_parquet(folder / REFERENCE_FILE)
    except (OSError, ValueError) as exc:
        raise DataError(f"model folder {folder.name}: {REFERENCE_FILE} is not readable ({exc})") from None
    if REFERENCE_FILE in card["files"] and frame_digest(reference) != card["files"][REFERENCE_FILE]:
        raise DataError(f"model {card['model_id']}: {REFERENCE_FILE} does not match the hash in its card (the file "
                        "was changed or damaged): refusing to score with it")
    check_versions(card)
    return card


def _major_minor(version: str) -> tuple[int, ...]:
    parts = []
    for p in str(version).split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_versions(card: dict, installed: dict | None = None) -> None:
    """A model needs this package's major version and scikit-learn's major.minor version it was saved with
    (scikit-learn does not promise that fitted estimators load across minor versions), and a shape card also
    interpret-core's major.minor version (its boosting machine is part of the saved model)."""
    now = installed or library_versions(card.get("form"))
    then = card.get("versions", {})
    mid = card.get("model_id")
    if "engage_models" in then and _major_minor(then["engage_models"])[0] != _major_minor(now["engage_models"])[0]:
        raise ConfigError(f"model {mid} was saved by engage-models {then['engage_models']}; this is "
                          f"{now['engage_models']} (another major version): train a new model")
    if "scikit-learn" in then and _major_minor(then["scikit-learn"]) != _major_minor(now["scikit-learn"]):
        raise ConfigError(f"model {mid} was saved with scikit-learn {then['scikit-learn']}; this environment has "
                          f"{now['scikit-learn']}: model files are not compatible across scikit-learn minor versions "
                          f"(install scikit-learn {'.'.join(map(str, _major_minor(then['scikit-learn'])))}.* or train "
                          "a new model)")
    if "interpret-core" in then and "interpret-core" in now and (
            _major_minor(then["interpret-core"]) != _major_minor(now["interpret-core"])):
        raise ConfigError(f"model {mid} (a shape card) was saved with interpret-core {then['interpret-core']}; this "
                          f"environment has {now['interpret-core']}: its learner is not promised to load across "
                          f"minor versions (install interpret-core "
                          f"{'.'.join(map(str, _major_minor(then['interpret-core'])))}.* or train a new model)")
