"""An amount in words, in Arabic or English, as written under a receipt's total.

num2words has an Arabic EGP currency mode, but what it writes is not what an
Egyptian reads on a receipt: "واحد جنيه" for one pound, "اثنان جنيهان" for
two, "إحدى قرش" for one piastre, "خمسون قرش" where Arabic wants "خمسون قرشًا",
a stray leading "و" when there are no pounds, no "مصري", and its English has
no EGP at all. So only its cardinals are used, and the counted noun (تمييز)
follows the Arabic rules for the number nearest to it, which is the last part
of the amount (its last two digits):

- 1 and 2 are adjectives, not counters: the noun comes first, in the singular
  or the dual ("جنيه مصري واحد", "جنيهان مصريان");
- a number ending in 3 to 10: the plural, genitive ("ثلاثة جنيهات مصرية",
  "مائة وثلاثة جنيهات مصرية");
- a number ending in 11 to 99: the singular, accusative ("خمسون جنيهًا مصريًا",
  "ألف وأحد عشر جنيهًا مصريًا");
- a round hundred, thousand, million, ...: the singular, genitive, the number
  in construct ("مائة جنيه مصري", "مائتا جنيه مصري", "ألفا جنيه مصري");
- a larger number ending in 1 or 2 (101, 1002, ...): since 1 and 2 take no
  counted noun, the round part is counted as above and the 1 or 2 is added as
  a noun of its own, as grammar books write "ألف كتاب وكتابان":
  "ألف جنيه مصري وجنيهان مصريان" (not "ألف واثنان جنيه مصري").

Hundreds are spelt one way throughout, the way Egyptian cheques and official
forms write them: "مائة", "مائتان"/"مائتا", "ثلاثمائة" (num2words mixes in
"مئتان" and "مئتا").
"""

from __future__ import annotations

import re

from num2words import num2words

from core.money import PIASTRES_PER_POUND

# (singular genitive, dual, plural, singular accusative)
_POUND_AR = ("جنيه مصري", "جنيهان مصريان", "جنيهات مصرية", "جنيهًا مصريًا")
_PIASTRE_AR = ("قرش", "قرشان", "قروش", "قرشًا")
_ONE_AR = {"جنيه مصري": "جنيه مصري واحد", "قرش": "قرش واحد"}


def _cardinal_ar(number: int) -> str:
    """num2words' cardinal, written as on a receipt.

    Its construct forms ("مئتا", "ألفا", "أحد عشر ألف") are right here, because
    a noun always follows.
    """
    words = num2words(number, lang="ar")
    # "مائة و خمسون" -> "مائة وخمسون": the conjunction is written joined.
    words = re.sub(r"(^| )و ", r"\1و", words)
    # One spelling of the hundreds: "مئتان" -> "مائتان", like its "مائة".
    words = words.replace("مئ", "مائ")
    # One spelling of the accusative tanween: fathatan on the letter, then alif.
    return words.replace("اً", "ًا")


def _counted_ar(number: int, nouns: tuple[str, str, str, str]) -> str:
    singular, dual, plural, accusative = nouns
    if number == 1:
        return _ONE_AR[singular]
    if number == 2:
        return dual
    tail = number % 100
    if tail in (1, 2):
        return f"{_counted_ar(number - tail, nouns)} و{_counted_ar(tail, nouns)}"
    if 3 <= tail <= 10:
        noun = plural
    elif 11 <= tail <= 99:
        noun = accusative
    else:
        noun = singular
    return f"{_cardinal_ar(number)} {noun}"


def _counted_en(number: int, singular: str, plural: str) -> str:
    return f"{num2words(number, lang='en')} {singular if number == 1 else plural}"


def amount_in_words(piastres: int, lang: str) -> str:
    """`piastres` in words: "مائة وخمسون جنيهًا مصريًا وخمسون قرشًا" (ar) or
    "one hundred and fifty Egyptian pounds and fifty piastres" (en).

    Zero piastres are not spoken; no pounds with some piastres gives the
    piastres alone; nothing at all is "zero".
    """
    if piastres < 0:
        raise ValueError("An amount in words cannot be negative.")
    pounds, rest = divmod(piastres, PIASTRES_PER_POUND)
    if lang == "ar":
        if not piastres:
            return "صفر جنيه مصري"
        parts = []
        if pounds:
            parts.append(_counted_ar(pounds, _POUND_AR))
        if rest:
            parts.append(_counted_ar(rest, _PIASTRE_AR))
        return " و".join(parts)
    if lang == "en":
        if not piastres:
            return "zero Egyptian pounds"
        parts = []
        if pounds:
            parts.append(_counted_en(pounds, "Egyptian pound", "Egyptian pounds"))
        if rest:
            parts.append(_counted_en(rest, "piastre", "piastres"))
        return " and ".join(parts)
    raise ValueError(f"No words for language {lang!r}; use 'ar' or 'en'.")
