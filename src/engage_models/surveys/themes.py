"""Comment themes in English and Japanese: tokens, key terms by NPS category, themes, example comments.

Tokens
------
English: lower case words (letters, digits, ``'+-``), stop words removed, a light plural folding
(``reports`` -> ``report``). Japanese: morphological analysis with janome (pure Python, dictionary
bundled in the wheel, nothing downloaded at run time); kept are nouns (general, verbal, adjectival stems,
proper nouns) and the base form of independent adjectives (``高すぎ`` -> ``高い``), stop words removed.
Latin words inside Japanese text (Slack, API) are lower-cased like English ones.

Key terms
---------
Each term is counted once per comment. For a category ``i`` (e.g. detractors) against all other comments
``j`` of the same language, the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
Quinn 2008, "Fightin' Words"), the prior being the term's counts over all comments (``a_w``, total ``a0``):

.. math::
    \\delta_w = \\log\\frac{y_{iw} + a_w}{n_i + a_0 - y_{iw} - a_w}
             - \\log\\frac{y_{jw} + a_w}{n_j + a_0 - y_{jw} - a_w},
    \\qquad z_w = \\delta_w / \\sqrt{1 / (y_{iw} + a_w) + 1 / (y_{jw} + a_w)}

A large ``z`` marks a term that is both frequent and specific to the category; rare terms are shrunk
towards zero instead of topping the list by chance.

Themes
------
A small bilingual lexicon (:data:`THEMES`, editable) maps terms to the themes customer-success teams
talk about (ease of use, support, price, features, onboarding, performance, reporting, integration). A
comment may carry several themes. Representative comments of a theme and category are those whose terms
are most typical of the category (highest mean ``z``), shorter first on ties.

Comments are user text: show them only through :func:`engage_models._core.display.table`, which escapes them.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .._core.stats import cluster_moments, effective_n, wilson_interval

log = logging.getLogger(__name__)

_JA_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_EN_WORD = re.compile(r"[a-z][a-z0-9'+\-]*[a-z0-9+]|[a-z]")

_LEXICON = yaml.safe_load((Path(__file__).resolve().parent / "lexicon.yaml").read_text(encoding="utf-8"))
EN_STOP = frozenset(_LEXICON["stop_words"]["en"].split())
JA_STOP = frozenset(_LEXICON["stop_words"]["ja"].split())
_JA_NOUNS = frozenset(_LEXICON["janome_nouns"])
_POS = _LEXICON["janome_pos"]
_JA_COMPOUND = frozenset(_LEXICON["janome_compound_suffixes"].split())
_JA_WORDS: dict[str, str | None] = _LEXICON["janome_words"]
_JA_WORDS_NEGATED = {negated: word for word, negated in _JA_WORDS.items() if negated}
_NEG = _LEXICON["negation"]
_EN_NEGATORS = frozenset(_NEG["en"].split())
_EN_BETWEEN = frozenset(_NEG["en_between"].split())
_JA_COPULA = frozenset(_NEG["ja_copula"].split())
_JA_TOPIC = frozenset(_NEG["ja_topic"].split())
_JA_POLITE_VERBS = frozenset(_NEG["ja_polite_verbs"].split())
_JA_REPORTED = frozenset(_NEG["ja_reported"].split())
_JA_JUDGING = frozenset(_NEG["ja_judging"].split())
_JA_TENSE = frozenset(_NEG["ja_tense"].split())
_JA_ONLY = frozenset(_NEG["ja_only"].split())
_JA_QUESTION = frozenset(_NEG["ja_question"].split())
_JA_LEAD_STEMS = frozenset(_NEG["ja_lead_stems"].split())
_JA_DOUBLE = frozenset(_NEG["ja_double"].split())
_JA_HAS = frozenset(_NEG["ja_has"].split())
_JA_TE = frozenset(_NEG["ja_te"].split())
_EN_BE = frozenset(_NEG["en_be"].split())
_EN_COMPARATIVES = frozenset(_NEG["en_comparatives"].split())
_EN_ABILITY = frozenset(_NEG["en_ability"].split())
_EN_ENOUGH = _NEG["en_enough"]
_EN_MORE_NOT_POSSIBLE = _EN_ABILITY | frozenset(_NEG["en_never"].split())
_EN_COULD = frozenset(_NEG["en_could"].split())
_EN_JUDGING = frozenset(_NEG["en_judging"].split())
_EN_OBJECTS = frozenset(_NEG["en_objects"].split())
#: the prefix of a negated English term ("not intuitive")
EN_NOT = "not "
_TE_ENDING, _DICT_ENDING = _NEG["ja_te_ending"], _NEG["ja_dict_ending"]
_EN_BREAK = re.compile(r"[.,;:!?()\n]+|\b(?:" + "|".join(map(re.escape, _LEXICON["clauses"]["en_breaks"].split()))
                       + r")\b")
_JA_BREAKS = tuple(_LEXICON["clauses"]["janome_breaks"].split())
_SPEED = _LEXICON["speed"]
_SPEED_WORDS = frozenset(_SPEED["words"].split())
_PRODUCT = frozenset(_SPEED["product"].split())

#: Theme -> terms, from ``lexicon.yaml`` next to this module. Edit that file freely.
THEMES: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in _LEXICON["themes"].items()}
#: Every theme's words: what a verb of judging can pass a negation to ("don't find it intuitive", not "can't find
#: it anywhere")
_THEME_WORDS = frozenset().union(*THEMES.values())


# ----------------------------------------------------------------------------------------------- tokens
def detect_lang(text: str) -> str:
    """``'ja'`` when the text contains kana or kanji, else ``'en'``."""
    return "ja" if _JA_CHARS.search(text or "") else "en"


def _fold(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s")):
        return word[:-1]
    return word.removesuffix("'s")


def _clauses_en(text: str) -> list[list[str]]:
    parts = _EN_BREAK.split(text.lower().replace("’", "'"))
    return [terms for part in parts if (terms := _tokenize_en(part))]


def _tokenize_en(text: str) -> list[str]:
    out, negated, between, words = [], False, [], _EN_WORD.findall(text.lower().replace("’", "'"))
    judging, found = None, False  # a verb of judging after a negator ("don't find"); its object ("it") seen
    for i, w in enumerate(words):
        if judging is not None:
            if w in _EN_OBJECTS or (found and w in _EN_BETWEEN):  # "don't find it (very) intuitive"
                found = found or w in _EN_OBJECTS
                continue
            if found and _fold(w) in _THEME_WORDS:  # what "it" is found: a word of a theme, negated
                out.append(EN_NOT + _fold(w))
                judging, negated = None, False
                continue
            # "don't find the report", "can't find it anywhere": the verb is what is negated, as any other word
            out.append(EN_NOT + _fold(judging))
            judging, negated = None, False
        if w in _EN_NEGATORS:  # "not" reaches the next content word, past "very", "that", "be", "seem"...
            negated, between = True, []
            negator = "cannot" if w == "not" and i and words[i - 1] in _EN_COULD else w
        elif negated and w in _EN_BETWEEN:
            between.append(w)
        elif negated and not between and w in _EN_JUDGING:
            judging, found = w, False
        elif w in EN_STOP or len(w) < 2 or w.isdigit():
            negated = False
        else:
            if negated and (_praise(w, between, negator) or negator in _EN_ABILITY and _EN_ENOUGH in words[i + 1:]):
                negated = False  # "couldn't be happier", "can't recommend it enough": praise, not negation
            out.append(EN_NOT + _fold(w) if negated else _fold(w))
            negated = False
    if judging:
        out.append(EN_NOT + _fold(judging))
    return out


def _praise(word: str, between: list[str], negator: str) -> bool:
    """A comparative of praise after "be"/"been" (``easier``, ``happier``, ``better``) when the negator says it could
    not be more: "couldn't be happier", "never been easier" (not "won't be easier", not "wouldn't be user
    friendly")."""
    return negator in _EN_MORE_NOT_POSSIBLE and bool(_EN_BE & set(between)) and word in _EN_COMPARATIVES


@functools.cache
def _janome():
    from janome.tokenizer import Tokenizer

    return Tokenizer()


def _negation_end(toks, j: int) -> int | None:
    """Where a negation from ``j`` ends (the index after it), or None when the tokens from ``j`` do not negate what
    came before: optionally は or も, then ない (an auxiliary, or an adjective after は: 早くはない), or the polite
    ありません / ございません (ある, ます, ん)."""
    if j < len(toks) and toks[j].surface in _JA_TOPIC:
        j += 1
    if j >= len(toks):
        return None
    if toks[j].base_form == _NEG["ja_auxiliary"]:
        return j + 1
    if toks[j].base_form in _JA_POLITE_VERBS and _ends_polite_no(toks[j + 1:j + 3]):
        return j + 3
    return None


def _negation_at(toks, j: int) -> bool:
    """Whether the tokens from ``j`` negate what came before, once: a negation negated again (使いやすくないわけで
    はない, 使いやすくなくもない, 遅くないとは言えない) affirms it."""
    end = _negation_end(toks, j)
    if end is None:
        return False
    if toks[end - 1].infl_form == _NEG["ja_te_form"] and _negation_end(toks, end) is not None:  # なく + も + ない
        return False
    if end < len(toks) and toks[end].surface in _JA_DOUBLE:  # ない + わけ/こと + (で) + は + ない
        k = end + 1 + (end + 1 < len(toks) and toks[end + 1].surface in _JA_COPULA)
        if _negation_end(toks, k) is not None:
            return False
    return not _judged_not(toks, end)  # ない + とは言えない


def _ends_polite_no(toks) -> bool:
    """Whether ``toks`` end in the polite negation ません (ます, ん)."""
    return len(toks) >= 2 and toks[-2].base_form == _NEG["ja_polite"] and toks[-1].base_form == _NEG[
        "ja_polite_negative"]


def _negated(dictionary_form: str) -> str:
    """An adjective's negated term from its dictionary form (早い -> 早くない, 使いやすい -> 使いやすくない): the
    inverse of :func:`affirmative`."""
    return dictionary_form[:-1] + _TE_ENDING + _NEG["ja_auxiliary"]


def _judged_not(toks, j: int) -> bool:
    """Whether a judgement of the word before ``j`` is denied at its clause's end: と, ところ or こと at ``j``,
    then only particles, adverbs, verbs of judging (思う, 言える, 感じる, ある) and auxiliaries up to the clause's
    end, which is a negation (ない, ません; です and た after it): 高いとは思いません, 遅いと感じたことはありません."""
    if j >= len(toks) or toks[j].surface not in _JA_REPORTED:
        return False
    rest = []
    for tok in toks[j + 1:]:
        if tok.part_of_speech.startswith(_JA_BREAKS):
            if tok.surface in _JA_QUESTION:  # 高いと思わない？: asked, not denied
                return False
            break
        if tok.surface in _JA_ONLY:  # 遅いとしか言えない: "nothing but slow"
            return False
        kind = tok.part_of_speech.split(",")[0]
        if kind not in (_POS["particle"], _POS["adverb"], _POS["auxiliary"]) and tok.surface not in _JA_REPORTED \
                and tok.base_form not in _JA_JUDGING and tok.base_form != _NEG["ja_auxiliary"]:
            return False  # another word of content: what the clause denies is not this word
        rest.append(tok)
    while rest and rest[-1].base_form in _JA_TENSE:
        rest.pop()
    if not rest or not (rest[-1].base_form == _NEG["ja_auxiliary"] or _ends_polite_no(rest)):
        return False
    # 言えなくもない, 思わなくはない: two negations, no denial
    negations = sum(t.base_form == _NEG["ja_auxiliary"] for t in rest)
    negations += sum(_ends_polite_no(rest[:k + 1]) for k in range(len(rest)))
    return negations % 2 == 1


def _negated_noun(toks, i: int) -> str | None:
    """A noun at ``i`` (or a noun and 的: 直感的) followed by a copula and a negation (簡単ではない, 簡単じゃない,
    簡単ではありません, 直感的でない): the noun as negated (簡単ではない, 直感的ではない), else None."""
    j, word = i + 1, toks[i].surface
    if j < len(toks) and toks[j].surface == _NEG["ja_noun_suffix"]:
        j, word = j + 1, word + toks[j].surface
    if j >= len(toks) or toks[j].surface not in _JA_COPULA or not _negation_at(toks, j + 1):
        return None
    return word + _NEG["ja_noun_negated"]


def _clauses_ja(text: str) -> list[list[str]]:
    clauses: list[list[str]] = [[]]
    out = clauses[0]
    toks = list(_janome().tokenize(text))
    skip = -1
    for i, tok in enumerate(toks):
        if i == skip:  # the second half of a compound (使い + やすい)
            continue
        if tok.part_of_speech.startswith(_JA_BREAKS):  # 、。 and が, けど, て, ので: the clause ends
            if out:
                out = []
                clauses.append(out)
            continue
        pos = tok.part_of_speech.split(",")
        base = tok.base_form if tok.base_form != "*" else tok.surface
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        verb = (pos[0] == _POS["verb"] and pos[1] == _POS["independent"] and tok.infl_form == _POS["continuative"]
                and tok.base_form != _POS["light_verb"])  # 操作し + やすい: the noun is the term
        # at the start of a text janome takes 使い for a noun and やすく for an independent adjective
        lead = pos[0] == _POS["noun"] and pos[1] == _POS["general"] and tok.surface in _JA_LEAD_STEMS
        if ((verb or lead) and nxt is not None and nxt.part_of_speech.startswith(_POS["adjective"])
                and nxt.base_form in _JA_COMPOUND and (verb or not nxt.part_of_speech.startswith(
                    f"{_POS['adjective']},{_POS['dependent']}"))):
            negated = nxt.infl_form == _NEG["ja_te_form"] and _negation_at(toks, i + 2)  # 使いやすく + ない
            if not negated and nxt.surface == nxt.base_form and _judged_not(toks, i + 2):  # 使いやすいとは言えません
                out.append(tok.surface + _negated(nxt.base_form))
            else:
                out.append(tok.surface + (nxt.surface + _NEG["ja_auxiliary"] if negated else nxt.base_form))
            skip = i + 1
            continue
        noun = pos[0] == _POS["noun"] and pos[1] in _JA_NOUNS
        if noun or pos[0] == _POS["adjective"] and pos[1] == _POS["independent"]:
            word = base.lower() if base.isascii() else base
            if word in JA_STOP or word in EN_STOP or (word.isascii() and len(word) < 2) or word.isdigit():
                continue
            if not noun and tok.infl_form == _NEG["ja_te_form"] and _negation_at(toks, i + 1):  # 早く + ない
                word = tok.surface + _NEG["ja_auxiliary"]
            elif (not noun and tok.surface == base and base.endswith(_DICT_ENDING)
                  and _judged_not(toks, i + 1)):  # 高い + とは思いません
                word = _negated(base)
            elif noun and (negated := _negated_noun(toks, i)):  # 簡単 + で + は + ない, 直感 + 的 + で + ない
                word = negated
            out.append(word)
        elif base in _JA_WORDS and pos[0] == _POS["verb"]:  # 固まる; 固まらない, 固まりません, 固まったことはない
            out.append(_JA_WORDS[base] if _verb_negated(toks, i + 1) else base)
        elif base in _JA_WORDS and pos[0] == _POS["adverb"] and not _predicate_negated(toks, i + 1):
            out.append(base)  # サクサク; not サクサク動かない, ごちゃごちゃしていない (no praise, no complaint)
    return [c for c in clauses if c]


def _verb_negated(toks, j: int) -> bool:
    """Whether the verb before ``j`` is negated: ない or the polite ません after it, or (た) こと は/が/も ない:
    固まらない, 固まりません, 固まったことはない, 固まることはありません."""
    if _negation_at(toks, j) or _ends_polite_no(toks[j:j + 2]):
        return True
    if j < len(toks) and toks[j].base_form in _JA_TENSE:
        j += 1
    if j < len(toks) and toks[j].surface == _NEG["ja_experience"]:  # こと
        j += 1
        if j < len(toks) and toks[j].surface in _JA_HAS:
            j += 1
        return _negation_end(toks, j) is not None
    return False


def _predicate_negated(toks, j: int) -> bool:
    """Whether the predicate an adverb at ``j - 1`` qualifies is negated (サクサク動かない, ごちゃごちゃしていない,
    サクサク動きません): a negation before the clause's punctuation or a conjunctive particle other than て."""
    for k in range(j, min(j + 6, len(toks))):
        tok = toks[k]
        if tok.part_of_speech.startswith(_JA_BREAKS) and tok.surface not in _JA_TE:
            return False
        if tok.base_form == _NEG["ja_auxiliary"] or _ends_polite_no(toks[k - 1:k + 1]):
            return True
    return False


def affirmative(term: str) -> str:
    """The word a negated term negates (``not intuitive`` -> ``intuitive``, 使いやすくない -> 使いやすい,
    簡単ではない -> 簡単, 固まらない -> 固まる); any other term as it is. A negated term belongs to its word's theme."""
    if term.startswith(EN_NOT):
        return term[len(EN_NOT):]
    if term.endswith(_NEG["ja_noun_negated"]):
        return term[:-len(_NEG["ja_noun_negated"])]
    if term in _JA_WORDS_NEGATED:
        return _JA_WORDS_NEGATED[term]
    aux = _NEG["ja_auxiliary"]
    if len(term) > len(aux) + 1 and term.endswith(aux) and _JA_CHARS.search(term):
        stem = term[:-len(aux)]  # 早く -> 早い: the te-form's final く back to い
        if stem.endswith(_TE_ENDING):
            return stem[:-1] + _DICT_ENDING
    return term


def tokenize(text: str | None, lang: str | None = None) -> list[str]:
    """Content words of one comment, in order (repeats kept). ``lang`` is detected when not given.

    Examples
    --------
    >>> tokenize("Dashboards are painfully slow, often over 30 seconds to load.")
    ['dashboard', 'painfully', 'slow', 'second', 'load']
    >>> tokenize("サポートの対応が早くて助かっています。")
    ['サポート', '対応', '早い']
    """
    if text is None or (not isinstance(text, str) and pd.isna(text)) or not str(text).strip():
        return []
    text = str(text)
    return [w for clause in _clauses(text, _lang_of(text, lang)) for w in clause]


def _lang_of(text: str, lang: str | None) -> str:
    lang = lang if lang in ("en", "ja") else detect_lang(text)
    # a comment tagged English may still be written in Japanese (and the other way round)
    return "ja" if lang == "en" and _JA_CHARS.search(text) else lang


@functools.lru_cache(maxsize=100_000)
def _clauses(text: str, lang: str) -> tuple[tuple[str, ...], ...]:
    """The terms of each clause, in order. Cached: a report tokenises each comment for key terms, themes and
    examples."""
    return tuple(map(tuple, _clauses_ja(text) if lang == "ja" else _clauses_en(text)))


def comment_terms(df: pd.DataFrame, text: str = "comment", lang: str = "lang") -> pd.Series:
    """The set of terms of each comment (frozenset; empty for rows without a comment)."""
    langs = df[lang] if lang in df else pd.Series(None, index=df.index)
    return pd.Series([frozenset(tokenize(c, lg)) for c, lg in zip(df[text], langs, strict=True)], index=df.index,
                     name="terms")


def _comment_lang(df: pd.DataFrame, text: str, lang: str) -> pd.Series:
    detected = df[text].map(lambda c: detect_lang(c) if isinstance(c, str) else None)
    if lang not in df:
        return detected
    # the comment's script decides when the tag disagrees with it (Japanese text tagged 'en')
    return detected.where(detected == "ja", df[lang].where(df[lang].isin(["en", "ja"]), detected))


# ----------------------------------------------------------------------------------------- key terms
def key_terms(df: pd.DataFrame, by: str = "category", *, text: str = "comment", lang: str = "lang",
              min_comments: int = 3) -> pd.DataFrame:
    """Terms that set each group's comments apart from the others' (log-odds z, per language).

    Returns
    -------
    DataFrame
        ``lang``, ``by``, ``term``, ``comments`` (comments of the group with the term), ``share`` (percent
        of the group's comments), ``share_others``, ``z``; terms in fewer than ``min_comments`` comments of
        the group are dropped. Sorted by language, group, ``z`` descending and term (ties in a stable order).
    """
    d = df[df[text].notna() & df[by].notna()]
    d = d.assign(_terms=comment_terms(d, text, lang), _lang=_comment_lang(d, text, lang))
    rows = []
    for lg, dl in d.groupby("_lang"):
        n_by = dl.groupby(by, observed=True).size()
        counts = {g: Counter(t for ts in dg["_terms"] for t in ts) for g, dg in dl.groupby(by, observed=True)}
        total = Counter()
        for c in counts.values():
            total.update(c)
        a0 = sum(total.values())
        n_all = sum(sum(c.values()) for c in counts.values())
        for g, c in counts.items():
            n_i = sum(c.values())
            n_j = n_all - n_i
            for term, y_i in c.items():
                if y_i < min_comments:
                    continue
                a_w = total[term]
                y_j = a_w - y_i
                delta = (np.log((y_i + a_w) / (n_i + a0 - y_i - a_w))
                         - np.log((y_j + a_w) / (n_j + a0 - y_j - a_w)))
                z = delta / np.sqrt(1 / (y_i + a_w) + 1 / (y_j + a_w))
                rows.append({"lang": lg, by: g, "term": term, "comments": y_i,
                             "share": 100 * y_i / n_by[g], "share_others": 100 * y_j / max(len(dl) - n_by[g], 1),
                             "z": z})
    out = pd.DataFrame(rows, columns=["lang", by, "term", "comments", "share", "share_others", "z"])
    return out.sort_values(["lang", by, "z", "term"], ascending=[True, True, False, True], ignore_index=True)


def top_terms(terms: pd.DataFrame, by: str = "category", n: int = 10, min_z: float = 0.0) -> pd.DataFrame:
    """The ``n`` terms with the highest ``z`` (above ``min_z``) per language and group."""
    keep = terms[terms["z"] > min_z]
    return keep.groupby(["lang", by], observed=True, sort=True).head(n).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------- themes
def clause_themes(terms, lexicon: dict[str, frozenset[str]] | None = None) -> list[str]:
    """The themes (lexicon order) of one clause's terms. A negated term (``not intuitive``, 使いやすくない) is of
    its word's theme. A word of speed (``slow``, 遅い) is of the speed theme (performance) unless the clause also
    has a term of the theme it is said beside (support), no other term of its own and names no product (the app,
    a dashboard): サポートの返信が遅い and "slow replies from support" are support's, "the app is slow and support
    never answers" both (see ``speed`` in ``lexicon.yaml``).

    >>> clause_themes(["サポート", "返信", "遅い"]), clause_themes(["動作", "遅い"])
    (['support'], ['performance'])
    """
    lexicon = lexicon or THEMES
    words = {t: affirmative(t) for t in terms}
    found = [th for th, vocab in lexicon.items() if any(t in vocab or a in vocab for t, a in words.items())]
    speed, beside = _SPEED["theme"], _SPEED["beside"]
    if speed in found and beside in found and not (set(words.values()) & _PRODUCT):
        own = [a for t, a in words.items() if t in lexicon[speed] or a in lexicon[speed]]
        if all(a in _SPEED_WORDS for a in own):
            found.remove(speed)
    return found


def comment_themes(df: pd.DataFrame, text: str = "comment", lang: str = "lang",
                   lexicon: dict[str, frozenset[str]] | None = None) -> pd.Series:
    """The themes (tuple, lexicon order) of each comment: those of its clauses (:func:`clause_themes`)."""
    lexicon = lexicon or THEMES
    langs = df[lang] if lang in df else pd.Series(None, index=df.index)

    def themes(comment, lg) -> tuple[str, ...]:
        if not isinstance(comment, str) or not comment.strip():
            return ()
        hit = {th for clause in _clauses(comment, _lang_of(comment, lg)) for th in clause_themes(clause, lexicon)}
        return tuple(th for th in lexicon if th in hit)

    return pd.Series([themes(c, lg) for c, lg in zip(df[text], langs, strict=True)], index=df.index,
                     name="themes")


def theme_table(df: pd.DataFrame, by: str = "category", *, text: str = "comment", lang: str = "lang",
                lexicon: dict[str, frozenset[str]] | None = None, level: float = 0.95,
                cluster: str | None = "account_id") -> pd.DataFrame:
    """Share of each group's comments that touch each theme, with Wilson intervals.

    Comments of one account tend to repeat its concerns: where ``df`` has the ``cluster`` column
    (accounts) the Wilson interval uses the effective number of comments (design effect over accounts,
    :func:`engage_models._core.stats.effective_n`); ``cluster=None`` treats comments as independent.

    Returns ``theme``, ``by``, ``comments`` (in the group, with the theme), ``n`` (comments of the group),
    ``share``, ``ci_low``, ``ci_high`` (percent).
    """
    lexicon = lexicon or THEMES
    d = df[df[text].notna() & df[by].notna()]
    clustered = bool(cluster) and cluster in d
    themes = comment_themes(d, text, lang, lexicon)
    rows = []
    for g, idx in d.groupby(by, observed=True).groups.items():
        th = themes.loc[idx]
        n = len(th)
        for theme in lexicon:
            hit = th.map(lambda ts, theme=theme: theme in ts).astype(float)
            x = int(hit.sum())
            n_eff = float(n)
            if clustered and n:
                m = cluster_moments(hit.to_numpy(), d.loc[idx, cluster].to_numpy()).iloc[0]
                n_eff = float(effective_n(m["n"], m["clusters"], m["var_cluster"], m["var_srs"], m["sum_m2"], level))
            lo, hi = wilson_interval(x / n * n_eff if n else 0, n_eff, level)
            rows.append({"theme": theme, by: g, "comments": x, "n": n, "share": 100 * x / n if n else np.nan,
                         "ci_low": 100 * float(lo), "ci_high": 100 * float(hi)})
    return pd.DataFrame(rows, columns=["theme", by, "comments", "n", "share", "ci_low", "ci_high"])


def representative_comments(df: pd.DataFrame, by: str = "category", groups=("promoter", "detractor"), *,
                            k: int = 2, text: str = "comment", lang: str = "lang",
                            lexicon: dict[str, frozenset[str]] | None = None, terms: pd.DataFrame | None = None,
                            themes: list[str] | None = None) -> pd.DataFrame:
    """Up to ``k`` typical comments per theme for each group in ``groups``, in each language of the comments.

    Typical = highest mean key-term ``z`` of its terms for its group (from :func:`key_terms`, computed here
    when ``terms`` is not given), shorter first on ties; a comment repeated word for word shows once. A comment
    of several themes is quoted for the first of them only while another comment can speak for the next (a
    reader found "The app freezes whenever more than a few filters are applied." under both features and
    performance); a theme with no other comment quotes it again. Each
    language is chosen apart (its terms' z are its own): a report in Japanese quotes Japanese customers where
    there are any (:func:`engage_models.surveys.report.comments_in`), where one ranking of both languages
    quoted only English ones.

    Returns ``theme``, ``by``, ``comment``, ``lang`` (the comment's language) and the other columns of ``df``
    that exist among ``score`` and ``submitted_at``.
    """
    lexicon = lexicon or THEMES
    d = df[df[text].notna() & df[by].isin(groups)].copy()
    extra = [c for c in ("score", "submitted_at") if c in d]
    if d.empty:
        return pd.DataFrame(columns=["theme", by, text, "lang", *extra])
    terms = key_terms(df, by, text=text, lang=lang, min_comments=1) if terms is None else terms
    zmap = {(lg, g, term): z for lg, g, term, z in zip(terms["lang"], terms[by], terms["term"], terms["z"],
                                                        strict=True)}
    d["_terms"] = comment_terms(d, text, lang)
    d["_lang"] = _comment_lang(d, text, lang)
    d["_themes"] = comment_themes(d, text, lang, lexicon)
    d["_typical"] = [np.mean([zmap.get((lg, g, w), 0.0) for w in sorted(ts)]) if ts else -np.inf
                     for lg, g, ts in zip(d["_lang"], d[by], d["_terms"], strict=True)]
    d["_len"] = d[text].str.len()
    rows = []
    for g in groups:
        dg = d[d[by] == g].sort_values(["_typical", "_len"], ascending=[False, True], kind="stable")
        quoted: set[str] = set()  # this group's comments quoted under an earlier theme
        for theme in themes or lexicon:
            # a mask, not a Series: a group without comments made an empty object Series, which pandas read as
            # a list of columns (KeyError '_lang' where no promoter had commented)
            of_theme = dg[dg["_themes"].map(lambda ts, theme=theme: theme in ts).to_numpy(dtype=bool)]
            for lg in sorted(of_theme["_lang"].dropna().unique()):
                cand = of_theme[of_theme["_lang"] == lg].drop_duplicates(text)
                seen = cand[text].isin(quoted)
                hit = pd.concat([cand[~seen], cand[seen]]).head(k)
                quoted.update(hit[text])
                for _, r in hit.iterrows():
                    rows.append({"theme": theme, by: g, text: r[text], "lang": lg, **{c: r[c] for c in extra}})
    return pd.DataFrame(rows, columns=["theme", by, text, "lang", *extra])


def plot_themes(table: pd.DataFrame, ax=None, lang: str = "en", by: str = "category",
                groups=("detractor", "passive", "promoter")):
    """Share of each group's comments per theme (grouped bars with Wilson intervals)."""
    from .._core.i18n import t
    from .._core.plots import error_bars, new_ax
    from .net_promoter import CATEGORY_COLOURS

    themes = list(dict.fromkeys(table["theme"]))
    ax = new_ax(ax, figsize=(9, 0.55 * len(themes) + 1.5))
    groups = [g for g in groups if g in set(table[by])]
    height = 0.8 / max(len(groups), 1)
    y = np.arange(len(themes))[::-1]
    for i, g in enumerate(groups):
        d = table[table[by] == g].set_index("theme").reindex(themes)
        err = error_bars(d["share"], d["ci_low"], d["ci_high"])
        ax.barh(y + (len(groups) / 2 - i - 0.5) * height, d["share"], height=height, xerr=err, capsize=2,
                color=CATEGORY_COLOURS.get(g), label=f"{t(g + 's', lang)} ({t('n', lang)}={int(d['n'].iloc[0]):,})")
    ax.set_yticks(y, [t("theme." + th, lang) for th in themes])
    ax.set_xlabel(t("plot.share_pct", lang))
    ax.legend(frameon=False, fontsize=8)
    return ax
