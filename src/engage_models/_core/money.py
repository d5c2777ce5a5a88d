"""Money as the data's currency: the run configuration names it (ISO code) and every report shows it.

>>> fmt_money(1234.5, "en", "USD"), fmt_money(-1234.5, "en", "EUR")
('$1,235', '-€1,235')
>>> fmt_money(1200000, "ja", "JPY"), fmt_money(1200000, "en", "JPY")
('1,200,000円', '¥1,200,000')
"""

from __future__ import annotations

import pandas as pd

#: ISO code -> (symbol, decimals shown in reports, Japanese suffix or None).
CURRENCIES = {
    "USD": ("$", 0, None),
    "EUR": ("€", 0, None),
    "GBP": ("£", 0, None),
    "JPY": ("¥", 0, "円"),
    "CNY": ("CN¥", 0, None),
    "KRW": ("₩", 0, None),
    "AUD": ("A$", 0, None),
    "CAD": ("C$", 0, None),
    "CHF": ("CHF ", 0, None),
    "SGD": ("S$", 0, None),
    "INR": ("₹", 0, None),
}
_SYMBOLS = {symbol.strip(): code for code, (symbol, _, _) in CURRENCIES.items()}


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
    symbol, default_decimals, ja_suffix = CURRENCIES[currency_code(currency)]
    d = default_decimals if decimals is None else decimals
    sign = "-" if x < 0 else ""
    if lang == "ja" and ja_suffix:
        return f"{sign}{abs(x):,.{d}f}{ja_suffix}"
    return f"{sign}{symbol}{abs(x):,.{d}f}"
