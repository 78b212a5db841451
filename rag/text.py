"""The project's one CJK range and one language detector.

Languages are told apart by script, which is all a knowledge base of English and Chinese (and
the odd Japanese or Korean document) needs, and needs no model: kana is Japanese, hangul Korean,
Chinese characters at least a third as many as Latin letters are Chinese, anything else is taken
as English.
"""

from __future__ import annotations

import re
from typing import Literal

# Written without spaces between words: kana, CJK ideographs (with extension A and the
# compatibility block) and hangul. For a regex character class.
KANA = "\u3040-\u30ff"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HANGUL = "\uac00-\ud7af"
CJK_RANGE = KANA + HAN + HANGUL

_IS_CJK = re.compile(rf"[{CJK_RANGE}]")
_HAN = re.compile(rf"[{HAN}]")
_KANA = re.compile(rf"[{KANA}]")
_HANGUL = re.compile(rf"[{HANGUL}]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def is_cjk(text: str) -> bool:
    """Whether ``text`` starts with a CJK character."""
    return bool(_IS_CJK.match(text))


def _chinese(text: str) -> bool:
    han = len(_HAN.findall(text))
    return bool(han) and han * 3 >= len(_LATIN.findall(text))


def language(text: str) -> str:
    """ISO 639-1 code from the script: 'ja' (kana), 'ko' (hangul), 'zh' (Chinese characters at
    least a third as many as Latin letters), else 'en'."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    return "zh" if _chinese(text) else "en"


def answer_language(text: str) -> Literal["en", "zh"]:
    """The language the product answers a question in (it speaks English and Chinese): 'zh' for
    a question written mostly in Chinese characters, else 'en'."""
    return "zh" if _chinese(text) else "en"
