"""Money as the data's currency: the run configuration names it (ISO code) and every report shows it.

>>> fmt_money(1234.6, "en", "USD"), fmt_money(-1234.6, "en", "EUR")
('$1,235', '-€1,235')
>>> fmt_money(1200000, "ja", "JPY"), fmt_money(1200000, "en", "JPY")
('1,200,000円', '¥1,200,000')
"""

from __future__ import annotations

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


def currency_code(currency: str) -> str:
    """The ISO code of ``currency`` (a code, or one of the symbols above such as ``$``)."""
    if currency in CURRENCIES:
        return currency
    if currency in _SYMBOLS:
        return _SYMBOLS[currency]
    raise ValueError(f"unknown currency {currency!r} (known: {', '.join(CURRENCIES)})")


def fmt_money(x, lang: str = "en", currency: str = "USD", decimals: int | None = None) -> str:
    """An amount with its currency as readers of ``lang`` write it; an empty string when missing."""
    if x is None or pd.isna(x):
        return ""
    from .i18n import catalogue, t

    code = currency_code(currency)
    symbol, default_decimals = CURRENCIES[code]
    d = default_decimals if decimals is None else decimals
    key = f"money.{code}" if f"money.{code}" in catalogue() else "money.default"
    return t(key, lang, sign="-" if x < 0 else "", symbol=symbol, amount=f"{abs(x):,.{d}f}")
