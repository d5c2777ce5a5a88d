"""Money as the data's currency: the run configuration names it (ISO code) and every report shows it.

>>> fmt_money(1234.6, "en", "USD"), fmt_money(-1234.6, "en", "EUR")
('$1,235', '-€1,235')
>>> fmt_money(1200000, "ja", "JPY"), fmt_money(1200000, "en", "JPY")
('1,200,000円', '¥1,200,000')

An amount under 10 keeps its cents where the currency has them (a purchase log's MRR at risk of $0.36 read "$0"):

>>> fmt_money(0.36, "en"), fmt_money(4.5, "ja"), fmt_money(9.999, "en"), fmt_money(0, "en"), fmt_money(-0.001, "en")
('$0.36', '$4.50', '$10', '$0', '$0')
>>> fmt_money(36.4, "en", "JPY"), fmt_money(0.36, "ja", "JPY"), fmt_money(4.4, "en", "KRW"), fmt_money(4.5, "ja", "EUR")
('¥36', '0円', '₩4', '€4.50')
"""

from __future__ import annotations

import math
import re
import unicodedata

import pandas as pd

#: ISO code -> (symbol, decimals shown in reports). How a language writes an amount (``1,200,000円``) is in the
#: message catalogue (``money.<code>``, else ``money.default``).
CURRENCIES = {
    "USD": ("$", 0),
    "EUR": ("€", 0),
    "GBP": ("£", 0),
    "JPY": ("¥", 0),
    "CNY": ("CN¥", 0),
    "KRW": ("₩", 0),
    "AUD": ("A$", 0),
    "CAD": ("C$", 0),
    "CHF": ("CHF ", 0),
    "SGD": ("S$", 0),
    "INR": ("₹", 0),
}
_SYMBOLS = {symbol.strip(): code for code, (symbol, _) in CURRENCIES.items()}
#: Currencies without a minor unit (no cents): their small amounts stay whole (``¥36``).
WHOLE_CURRENCIES = frozenset({"JPY", "KRW"})
#: Below this, an amount in a currency with cents shows them (``$0.36``, ``$4.50``; ``$12``, ``$1,234``).
CENTS_BELOW = 10


def currency_code(currency: str) -> str:
    """The ISO code of ``currency`` (a code, or one of the symbols above such as ``$``)."""
    if currency in CURRENCIES:
        return currency
    if currency in _SYMBOLS:
        return _SYMBOLS[currency]
    raise ValueError(f"unknown currency {currency!r} (known: {', '.join(CURRENCIES)})")


def fmt_money(x, lang: str = "en", currency: str = "USD", decimals: int | None = None) -> str:
    """An amount with its currency as readers of ``lang`` write it; an empty string when missing.

    Without ``decimals``, the currency's usual decimals (none), but cents for an amount under
    :data:`CENTS_BELOW` in a currency that has them (:data:`WHOLE_CURRENCIES` have none). An amount that rounds to
    zero has no minus sign."""
    if x is None or pd.isna(x):
        return ""
    from .i18n import catalogue, t

    code = currency_code(currency)
    symbol, default_decimals = CURRENCIES[code]
    d = default_decimals if decimals is None else decimals
    if decimals is None and code not in WHOLE_CURRENCIES and 0 < round(abs(x), 2) < CENTS_BELOW:
        d = max(d, 2)
    amount = f"{abs(x):,.{d}f}"
    key = f"money.{code}" if f"money.{code}" in catalogue() else "money.default"
    return t(key, lang, sign="-" if x < 0 and amount.strip("0.,") else "", symbol=symbol, amount=amount)


def money_axis(axis, lang: str = "en", currency: str = "USD"):
    """A tick formatter for a matplotlib ``axis`` of amounts: one precision for every tick of it, cents where the whole
    axis is under :data:`CENTS_BELOW` in a currency that has them, whole amounts otherwise (an axis from 0 to 12
    read "$0, $2.00, ... $8.00, $10, $12" with :func:`fmt_money`'s cents under 10).

    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots()
    >>> _ = ax.set_ylim(0, 12)
    >>> [money_axis(ax.yaxis)(v, None) for v in (0, 2, 12)], [money_axis(ax.yaxis, currency="JPY")(2, None)]
    (['$0', '$2', '$12'], ['¥2'])
    >>> _ = ax.set_ylim(0, 0.8)
    >>> [money_axis(ax.yaxis)(v, None) for v in (0, 0.2)]
    ['$0.00', '$0.20']
    >>> plt.close("all")
    """
    whole = currency_code(currency) in WHOLE_CURRENCIES

    def tick(value, _pos) -> str:
        top = max(abs(v) for v in axis.get_view_interval())
        return fmt_money(value, lang, currency, decimals=0 if whole or top >= CENTS_BELOW else 2)
    return tick


# ------------------------------------------------------------------------------------------ amounts as written
#: Signs an amount may carry before or after its number, beside the ISO codes (``JPY 2,985``, ``2,985 EUR``): the
#: symbols above, the yen's full-width form and its kanji, and a backslash, the yen sign of Shift_JIS (CP932)
#: text. Named by code point: symbols a value may carry, not report text.
_YEN, _YEN_KANJI, _EURO = chr(0xA5), chr(0x5186), chr(0x20AC)
_AMOUNT_SIGNS = ("US$", "A$", "C$", "S$", "CN" + _YEN, "$", _YEN, chr(0xFFE5), _EURO, chr(0xA3), chr(0x20A9),
                 chr(0x20B9), "\\", _YEN_KANJI)
#: Signs of currencies written without decimals (yen, won): a single comma group there is a thousands separator.
_WHOLE_SIGNS = {_YEN, chr(0xFFE5), "\\", _YEN_KANJI, chr(0x20A9), "JPY", "KRW"}
_NUMBER = re.compile(r"[+-]?[0-9][0-9.,]*")


def _split_sign(text: str) -> tuple[str, str | None]:
    """``text`` without the currency sign or code before or after its number (a minus kept), and the sign."""
    s = text.strip()
    minus = ""
    if s[:1] in "+-":
        minus, s = s[:1], s[1:].lstrip()
    found = None
    for sign in (*_AMOUNT_SIGNS, *CURRENCIES):
        if s.upper().startswith(sign.upper()) and sign.strip():
            found, s = sign, s[len(sign):].strip()
            break
        if s.upper().endswith(sign.upper()) and sign.strip():
            found, s = sign, s[: -len(sign)].strip()
            break
    if s[:1] in "+-" and not minus:
        minus, s = s[:1], s[1:].strip()
    return minus + s, found


def read_amount(value) -> float | None:
    """An amount as a spreadsheet or a billing export writes it, as a number; None when it is not one or when how it
    is written leaves its value in doubt (:func:`amount_doubt`).

    Read: plain numbers (``1200.5``), full-width digits and separators, and with a currency sign or ISO code before
    or after the number (``¥2,985``, ``2,985`` followed by the yen's kanji, ``JPY 2,985``, ``$1,200.50``) thousands
    separators that cannot be a decimal mark: both marks in one number (``$1,234.50``, ``1.234,50 €``), a mark
    repeated (``$1,234,567``), a single comma group with a sign whose countries group with commas (``$2,985``,
    ``£2,985``, the yen's). A number without a sign is read only when plain, as ingest reads numbers (``1,200`` is
    read once sources.yaml gives ``thousands``).

    >>> [read_amount(v) for v in ("2,985" + chr(0x5186), chr(0xA5) + "2,985", "JPY 2,985", "1.234,50 " + chr(0x20AC),
    ...                           "$1,200.50", "-$1,200", "$1,234,567", " 42 ", chr(0xFF12) + chr(0xFF19) + "85")]
    [2985.0, 2985.0, 2985.0, 1234.5, 1200.5, -1200.0, 1234567.0, 42.0, 2985.0]
    >>> [read_amount(v) for v in ("2,985", "1,234,567", "2,985 " + chr(0x20AC), "1.234 " + chr(0x20AC), "12 mo", "")]
    [None, None, None, None, None, None]
    >>> [read_amount(v) for v in ("inf", "1e400", "nan", float("inf"), "-Infinity")]
    [None, None, None, None, None]
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    text = unicodedata.normalize("NFKC", str(value)).strip()  # full-width digits, comma, point and yen sign
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:  # "inf", "1e400" and "nan" are words to float(), no amount (an MRR of inf made an infinite LTV)
        return number if math.isfinite(number) else None
    number, sign = _split_sign(text)
    if sign is None or not _NUMBER.fullmatch(number) or amount_doubt(value):
        return None
    plain = _thousands(number, sign)
    if plain is None:
        return None
    try:
        return float(plain)
    except ValueError:
        return None


_GROUPS = {",": re.compile(r"[0-9]{1,3}(,[0-9]{3})+"), ".": re.compile(r"[0-9]{1,3}(\.[0-9]{3})+")}


def _thousands(number: str, sign: str | None) -> str | None:
    """``number`` (digits, ``,`` and ``.``) as Python reads a number, or None when its marks leave it in doubt."""
    body = number.lstrip("+-")
    minus = number[: len(number) - len(body)]
    if "," in body and "." in body:  # both marks: the last is the decimal mark, the other groups in threes before it
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        mark = "." if decimal == "," else ","
        head, _, tail = body.rpartition(decimal)
        if not _GROUPS[mark].fullmatch(head) or not tail.isdigit():
            return None
        return minus + head.replace(mark, "") + "." + tail
    if "," not in body and "." not in body:
        return minus + body
    mark = "," if "," in body else "."
    if not _GROUPS[mark].fullmatch(body):  # 12.5 is read (a decimal point), 12,5 is not
        return minus + body if mark == "." and body.count(".") == 1 else None
    if body.count(mark) > 1:  # 1,234,567: a decimal mark is written once
        return minus + body.replace(mark, "")
    # one group (2,985): a thousands separator where the sign's currency groups with commas (yen, dollar, pound)
    if mark == "," and sign is not None and sign.upper() not in ("EUR", _EURO):
        return minus + body.replace(",", "")
    return None


def amount_doubt(value) -> str | None:
    """The mark (``,`` or ``.``) that leaves an amount's value in doubt, or None: one group of three digits after
    it, with a currency sign that does not tell which it is (``2,985 EUR``: a thousands separator or a decimal
    comma; ``$1.234``: a decimal point or a thousands separator). Such an amount is not read (:func:`read_amount`).

    >>> amount_doubt("2,985 EUR"), amount_doubt(chr(0x20AC) + "1.234"), amount_doubt("$2,985"), amount_doubt("2,985")
    (',', '.', None, None)
    """
    if value is None or isinstance(value, (int, float)):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    number, sign = _split_sign(text)
    body = number.lstrip("+-")
    if sign is None or "," in body and "." in body:
        return None
    if re.fullmatch(r"[0-9]{1,3},[0-9]{3}", body) and sign.upper() in ("EUR", _EURO):
        return ","
    if re.fullmatch(r"[0-9]{1,3}\.[0-9]{3}", body) and sign.upper() not in {s.upper() for s in _WHOLE_SIGNS}:
        return "."
    return None


def read_amounts(values: pd.Series) -> pd.Series:
    """:func:`read_amount` of every value (NaN where it is none): a column of amounts as written (an MRR column of
    ``2,985`` followed by the yen's kanji). A blank is NaN too; tell it from an unreadable value by the input."""
    return pd.Series([read_amount(v) for v in values], index=values.index, dtype=float)
