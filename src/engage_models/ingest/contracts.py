"""Data contracts: the tables engage-models reads, their columns, keys and row-level checks.

Each table is declared once here; :mod:`engage_models.ingest` compiles the declarations into DuckDB SQL
(streaming, so the events table never has to fit in pandas), and the simulator uses the same reason
strings when it plants defects, so a test can check that every planted defect is quarantined with the
right reason.

A check is a SQL predicate over the *typed* columns that is TRUE when the row must be quarantined. The
predicates are constants written here; values (the current time, the CSAT scale) reach them only as bound
parameters (``$now``, the run date; ``$clock``, the later of it and the machine's clock; ``$csat_min``,
``$csat_max``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRING, TIMESTAMP, DOUBLE, BOOLEAN = "VARCHAR", "TIMESTAMPTZ", "DOUBLE", "BOOLEAN"

SURVEY_TYPES = ("nps", "csat")
SURVEY_TRIGGERS = ("onboarding", "ticket_close", "annual", "periodic")
CHANNELS = ("newsletter", "community", "event", "webinar", "meeting")
#: Channels of touches before the contract starts (the prospect's approach: see engage_models.journeys).
PREPURCHASE_CHANNELS = ("content_read", "material_request", "trial")
#: Devices an event or a touch may come from (optional column ``device``; any other text is kept as it is).
DEVICES = ("desktop", "mobile", "tablet")
EVENT_TYPES = ("login", "feature_use", "export", "content_view")
#: Event types something of the package counts: the panel's metrics (EVENT_TYPES) and the default milestones of
#: engage_models.journeys (a test keeps the two in step); ingest says when kept events have none of these.
COUNTED_EVENT_TYPES = EVENT_TYPES + ("onboarding_completed",)
PLAY_STATUSES = ("planned", "done", "skipped")
#: Columns of amounts of money: read as a billing export or a spreadsheet writes them (``2,985`` with the yen's kanji,
#: ``JPY 2,985``, ``$1,200.50``, full-width digits) where unambiguous, without a sources.yaml number format (see
#: :func:`engage_models._core.money.read_amount`).
AMOUNTS = ("mrr",)


# Reasons a row is quarantined. Functions where the reason names a column.
def unparseable(column: str) -> str:
    return f"unparseable {column}"


def missing(column: str) -> str:
    return f"missing {column}"


def duplicate(key: tuple[str, ...]) -> str:
    return f"duplicate {', '.join(key)}"


def in_future(column: str) -> str:
    """After the machine's clock (or after ``now`` when that is later): a time that cannot have happened yet."""
    return f"{column} in the future"


def after_run_date(column: str) -> str:
    """After the run date but not after the clock: a real row of a day the run does not cover yet (a backfill, or
    a retry the next day with the same run date). It is set aside, not wrong; it was quarantined as "in the
    future", and so read as a bad row in report 01."""
    return f"{column} after the run date"


def not_finite(column: str) -> str:
    """``inf``, ``-inf``, ``NaN``, ``infinity`` (PostgreSQL's) or a number too large for a double."""
    return f"non-finite {column}"


UNKNOWN_ACCOUNT = "unknown account_id"
#: the row's account is in the accounts file, but its row there was quarantined (fix that row to get these back)
ACCOUNT_QUARANTINED = "account_id quarantined in accounts"
NEGATIVE_DURATION = "negative duration_s"
NEGATIVE_MRR = "negative mrr"
NPS_OUT_OF_RANGE = "nps score outside 0-10"
NPS_NOT_WHOLE = "nps score not a whole number"
CSAT_OUT_OF_SCALE = "csat score outside the csat scale"  # a survey answer quarantined; a ticket's csat set aside
UNKNOWN_SURVEY_TYPE = "unknown survey_type"
CLOSED_BEFORE_OPENED = "closed_at before opened_at"
END_BEFORE_START = "end_date before start_date"
UNKNOWN_PLAY_STATUS = "unknown play status"
#: a row equal in every column to an earlier row of a table without a key (sources.yaml's ``exact_copies:
#: quarantine``; without it such rows are kept and counted, see engage_models.ingest.validate)
EXACT_COPY = "exact copy of an earlier row"
PLAY_DONE_IN_FUTURE = "play done in the future"
#: a play marked done on a date after the run date but not after the clock (see ``after_run_date``)
PLAY_DONE_AFTER_RUN_DATE = "play done after the run date"
UNKNOWN_ASSIGNMENT = "unknown assignment"
#: a play log row whose holdout and assignment (the action list's, copied as it is) say different arms
HOLDOUT_DISAGREES = "holdout and assignment disagree"
#: a row with no value at all (a spreadsheet's trailing ",,,,,,"), and a row that repeats the header (two exports
#: pasted into one file): each is said as what it is, in place of a "missing" or "unparseable" per column
BLANK_ROW = "blank row"
REPEATED_HEADER = "repeated header line"

# Lines of a text file that are not rows (see engage_models.ingest.files): quarantined with their raw line.
TOO_MANY_FIELDS = "too many fields"
TOO_FEW_FIELDS = "too few fields"
UNCLOSED_QUOTE = "unclosed quote"
MALFORMED_QUOTES = "malformed quotes"  # text after a closing quote: "ab"c
TRUNCATED_LAST_LINE = "truncated last line"  # too few fields or an open quote on a last line without line end
LINE_REASONS = (TOO_MANY_FIELDS, TOO_FEW_FIELDS, UNCLOSED_QUOTE, MALFORMED_QUOTES, TRUNCATED_LAST_LINE)


def is_identifier(name: str) -> bool:
    """Whether a column holds identifiers: its name ends in ``_id`` (``account_id``, ``ticket_id``, a known extra
    such as the surveys' ``ticket_id``, an extra such as ``crm_id``), in any case.

    An identifier is text, whatever type the file gives it: a column of integer ids with one blank cell is a
    column of floats to pandas and to a Parquet file written from it (``101.0``), and a spreadsheet stores ids as
    numbers. Ingest writes a whole number without its decimal point (``101.0`` and ``101.00`` are ``101``; a
    float ``1e6`` is ``1000000``), a number that is not whole as it was written, and a float's NaN (pandas' blank)
    as empty: ``101.0`` in one table named nothing of ``101`` in another (a CSAT answer lost its ticket, an
    account's rows were quarantined as of an unknown account). Leading zeros stay (``00101`` is not ``101``).

    >>> [is_identifier(n) for n in ("account_id", "Ticket_ID", "crm_id", "mrr", "paid")]
    [True, True, True, False, False]
    """
    return name.strip().lower().endswith("_id")


@dataclass(frozen=True)
class Column:
    """A contract column. ``required``: must be in the file; ``nullable``: may be empty in a row."""

    name: str
    dtype: str
    required: bool = True
    nullable: bool = True
    lower: bool = False  # normalise to lower case (categorical codes such as survey_type)


@dataclass(frozen=True)
class Check:
    """A row-level rule: ``sql`` is TRUE for rows to quarantine; skipped unless all ``needs`` are present."""

    reason: str
    sql: str
    needs: tuple[str, ...]


@dataclass(frozen=True)
class TableContract:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = True
    account_fk: bool = True  # account_id must exist among the accepted accounts
    future_columns: tuple[str, ...] = ()
    #: the time a row ends (a ticket's close): after ingest's "now" (the run date) but not after the clock it is
    #: not yet known on the run date, so it is read as empty with the ``known_at_end`` columns (the ticket was open
    #: then, its CSAT not given); after the clock it is in the future, as a ``future_columns`` time is
    end_column: str | None = None
    known_at_end: tuple[str, ...] = ()
    checks: tuple[Check, ...] = field(default_factory=tuple)
    #: processed rows are stored in this order; every aggregation of a large table is per account, and
    #: rows stored by account keep those hash tables cache-resident and let a range of accounts be read alone
    cluster_by: tuple[str, ...] = ()
    #: extra columns the package reads where present (seats, country, ...): kept as extras, and like the
    #: contract's own found under another case (``Seats``) and said in the data-quality report
    known: tuple[str, ...] = ()
    #: optional columns whose bad value (unparseable, non-finite, or failing a check on that column alone) is set
    #: aside by itself: the row is kept with the value empty, and the value is recorded with its reason and row
    #: (``quarantine/<table>.values.parquet``). A ticket's CSAT of 10 on a 1-5 scale quarantined the whole ticket,
    #: which its account's ticket counts and times to close then missed.
    set_aside_values: tuple[str, ...] = ()

    def value_reason_of(self, reason: str, needs: tuple[str, ...] = ()) -> str | None:
        """The column of :attr:`set_aside_values` whose value alone ``reason`` sets aside (``needs``: the columns a
        check reads), else None: the reason quarantines the row."""
        for name in self.set_aside_values:
            if reason in (unparseable(name), not_finite(name)) or (needs and tuple(needs) == (name,)):
                return name
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def always_keyed(self) -> bool:
        """Every row has a key (its columns are required): a row repeating another is a duplicate key. A table
        without one (events, touchpoints; plays without ``play_id``) is checked for exact copies instead."""
        required = set(self.required_columns)
        return bool(self.key) and set(self.key) <= required


def _c(name, dtype, required=True, nullable=True, lower=False):
    return Column(name, dtype, required, nullable, lower)


CONTRACTS: dict[str, TableContract] = {
    t.name: t
    for t in (
        TableContract(
            "accounts",
            (
                _c("account_id", STRING, nullable=False),
                _c("name", STRING),
                _c("segment", STRING),
                _c("plan", STRING),
                _c("mrr", DOUBLE),
                _c("start_date", TIMESTAMP, nullable=False),
                _c("end_date", TIMESTAMP),
            ),
            key=("account_id",),
            account_fk=False,
            # end_date may lie ahead: a cancellation that has been given notice but not yet taken effect.
            future_columns=("start_date",),
            checks=(
                Check(NEGATIVE_MRR, '"mrr" < 0', ("mrr",)),
                Check(END_BEFORE_START, '"end_date" < "start_date"', ("start_date", "end_date")),
            ),
            known=("seats", "country"),
        ),
        TableContract(
            "subscriptions",
            (
                _c("account_id", STRING, nullable=False),
                _c("period_start", TIMESTAMP, nullable=False),
                _c("mrr", DOUBLE, nullable=False),
            ),
            key=("account_id", "period_start"),
            required=False,
            future_columns=("period_start",),
            checks=(Check(NEGATIVE_MRR, '"mrr" < 0', ("mrr",)),),
            known=("seats", "plan"),
        ),
        TableContract(
            "users",
            (
                _c("user_id", STRING, nullable=False),
                _c("account_id", STRING, nullable=False),
                _c("role", STRING),
                _c("created_at", TIMESTAMP),
            ),
            key=("user_id",),
            required=False,
            future_columns=("created_at",),
            known=("deactivated_at",),
        ),
        TableContract(
            "events",
            (
                _c("account_id", STRING, nullable=False),
                _c("user_id", STRING),
                _c("timestamp", TIMESTAMP, nullable=False),
                _c("event_type", STRING, nullable=False, lower=True),
                _c("feature", STRING, required=False),
                _c("duration_s", DOUBLE, required=False),
                _c("device", STRING, required=False, lower=True),
            ),
            future_columns=("timestamp",),
            checks=(Check(NEGATIVE_DURATION, '"duration_s" < 0', ("duration_s",)),),
            cluster_by=("account_id", "timestamp"),
        ),
        TableContract(
            "tickets",
            (
                _c("ticket_id", STRING, nullable=False),
                _c("account_id", STRING, nullable=False),
                _c("opened_at", TIMESTAMP, nullable=False),
                _c("closed_at", TIMESTAMP),
                _c("priority", STRING, lower=True),
                _c("csat", DOUBLE, required=False),
            ),
            key=("ticket_id",),
            future_columns=("opened_at",),
            end_column="closed_at",
            known_at_end=("csat",),
            set_aside_values=("csat",),
            checks=(
                Check(CLOSED_BEFORE_OPENED, '"closed_at" < "opened_at"', ("opened_at", "closed_at")),
                Check(CSAT_OUT_OF_SCALE, '"csat" < $csat_min OR "csat" > $csat_max', ("csat",)),
            ),
        ),
        TableContract(
            "touchpoints",
            (
                _c("account_id", STRING, nullable=False),
                _c("timestamp", TIMESTAMP, nullable=False),
                _c("channel", STRING, nullable=False, lower=True),
                _c("direction", STRING, required=False, lower=True),
                _c("opened", BOOLEAN, required=False),
                _c("attended", BOOLEAN, required=False),
                _c("device", STRING, required=False, lower=True),
                _c("play_id", STRING, required=False),  # the play (plays.play_id) this contact was part of
            ),
            future_columns=("timestamp",),
            cluster_by=("account_id", "timestamp"),
            known=("user_id",),
        ),
        TableContract(
            "surveys",
            (
                _c("response_id", STRING, nullable=False),
                _c("account_id", STRING, nullable=False),
                _c("user_id", STRING),
                _c("submitted_at", TIMESTAMP, nullable=False),
                _c("survey_type", STRING, nullable=False, lower=True),
                _c("trigger", STRING, lower=True),
                _c("score", DOUBLE, nullable=False),
                _c("comment", STRING, required=False),
                _c("lang", STRING, required=False, lower=True),
            ),
            key=("response_id",),
            future_columns=("submitted_at",),
            checks=(
                Check(UNKNOWN_SURVEY_TYPE, "\"survey_type\" NOT IN ('nps', 'csat')", ("survey_type",)),
                Check(NPS_OUT_OF_RANGE, "\"survey_type\" = 'nps' AND (\"score\" < 0 OR \"score\" > 10)",
                      ("survey_type", "score")),
                Check(NPS_NOT_WHOLE, "\"survey_type\" = 'nps' AND \"score\" <> floor(\"score\")",
                      ("survey_type", "score")),
                Check(CSAT_OUT_OF_SCALE,
                      "\"survey_type\" = 'csat' AND (\"score\" < $csat_min OR \"score\" > $csat_max)",
                      ("survey_type", "score")),
            ),
            known=("ticket_id",),
        ),
        # The play log: which customer-success play was planned, done or skipped for which account, and when.
        # ``holdout`` marks the rows of a randomised design (the action list's ``assignment``): true for an
        # account held out of the play (its status is then normally skipped), false for one assigned to it;
        # empty for plays run without a holdout (their effect can only be estimated observationally).
        # ``assigned_on`` (optional): the date of the draw, as the action list's ``as_of``.
        TableContract(
            "plays",
            (
                _c("account_id", STRING, nullable=False),
                _c("play", STRING, nullable=False, lower=True),
                _c("date", TIMESTAMP, nullable=False),
                _c("owner", STRING, lower=True),
                _c("status", STRING, nullable=False, lower=True),
                _c("note", STRING, required=False),  # outcome note, free text
                _c("play_id", STRING, required=False),
                _c("holdout", BOOLEAN, required=False),
                # the action list's ``assignment`` copied as it is (assigned / held_out / not_drawn): stands for
                # ``holdout`` (false / true / empty) where that is empty
                _c("assignment", STRING, required=False, lower=True),
                # the date of the holdout draw (the action list's ``as_of``): a randomised row's outcome counts
                # from it in both arms, whenever the play was done
                _c("assigned_on", TIMESTAMP, required=False),
            ),
            key=("play_id",),
            required=False,
            checks=(
                Check(UNKNOWN_PLAY_STATUS, "\"status\" NOT IN ('planned', 'done', 'skipped')", ("status",)),
                Check(PLAY_DONE_IN_FUTURE, "\"status\" = 'done' AND \"date\" > $clock", ("status", "date")),
                Check(PLAY_DONE_AFTER_RUN_DATE, "\"status\" = 'done' AND \"date\" > $now AND \"date\" <= $clock",
                      ("status", "date")),
                Check(UNKNOWN_ASSIGNMENT, "\"assignment\" NOT IN ('assigned', 'held_out', 'not_drawn')",
                      ("assignment",)),
                Check(HOLDOUT_DISAGREES, "\"holdout\" IS NOT NULL AND (\"assignment\" = 'not_drawn' OR "
                      "(\"assignment\" IN ('assigned', 'held_out') AND \"holdout\" <> (\"assignment\" = 'held_out')))",
                      ("holdout", "assignment")),
            ),
        ),
    )
}

#: Order of ingestion: accounts first, because the other tables are checked against its accepted ids.
TABLE_ORDER: tuple[str, ...] = tuple(CONTRACTS)
