"""Scoring functions for the evaluation (stdlib only, no I/O).

- Answers, English: :func:`squad_exact_match` / :func:`squad_f1`, the official SQuAD v1.1
  ``evaluate-v1.1.py`` logic (max over the gold answers).
- Answers, Chinese: :func:`cmrc_exact_match` / :func:`cmrc_f1`, the official CMRC 2018
  ``cmrc2018_evaluate.py`` logic. One deliberate difference: the official script splits
  non-Chinese runs with ``nltk.word_tokenize``; here a regex does it (word runs stay one
  token, keeping ``67.9`` / ``2,249`` whole; every other non-space character is a token).
  Contractions (``don't``) and quote conversion are where nltk would differ.
- Containment: :func:`contains_answer` (free-form answers, loose retrieval hits).
- Retrieval: :func:`chunk_hits`, :func:`recall_at_k`, :func:`mrr_at_k`, :class:`RetrievalScores`.
- Timings: :func:`pct` (percentiles).
"""

from __future__ import annotations

import re
import statistics
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import PurePosixPath


def _golds(golds: Sequence[str] | str) -> list[str]:
    """A bare string is one gold answer, not a sequence of one-character answers."""
    return [golds] if isinstance(golds, str) else list(golds)


_SQUAD_PUNCT = frozenset(string.punctuation)  # ASCII only, as in the official script
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(s: str) -> str:
    """Lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _SQUAD_PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def squad_exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold, else 0.0."""
    pred = squad_normalize(prediction)
    return float(any(pred == squad_normalize(g) for g in _golds(golds)))


def _squad_f1_one(prediction: str, gold: str) -> float:
    pred_tokens = squad_normalize(prediction).split()
    gold_tokens = squad_normalize(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best bag-of-tokens F1 of the normalised prediction against any gold (0.0 if none)."""
    return max((_squad_f1_one(prediction, g) for g in _golds(golds)), default=0.0)


# The official sp_char list. Its "……" entry is two characters, so it never equals a single
# character: a lone "…" is NOT removed by the official script, and is not removed here.
CMRC_PUNCTUATION: tuple[str, ...] = (
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
    "「", "」", "（", "）", "－", "～", "『", "』",
)
_CMRC_PUNCT_CHARS = frozenset(p for p in CMRC_PUNCTUATION if len(p) == 1)
_CJK = re.compile(r"[\u4e00-\u9fa5]")  # the official range (basic CJK block only)
_NON_CJK_TOKEN = re.compile(r"\w+(?:[.,]\d+)*|[^\w\s]")  # stands in for nltk.word_tokenize


def cmrc_remove_punctuation(s: str) -> str:
    """Official ``remove_punctuation``: lower-case, strip, drop the CMRC punctuation chars."""
    return "".join(ch for ch in s.lower().strip() if ch not in _CMRC_PUNCT_CHARS)


def cmrc_segment(s: str) -> list[str]:
    """Official ``mixed_segmentation(s, rm_punc=True)``: each Chinese character is a token,
    other runs are tokenised as words (see the module docstring), punctuation dropped."""
    tokens: list[str] = []
    run: list[str] = []
    for ch in s.lower().strip():
        if ch in _CMRC_PUNCT_CHARS:
            continue
        if _CJK.match(ch):
            tokens.extend(_NON_CJK_TOKEN.findall("".join(run)))
            run = []
            tokens.append(ch)
        else:
            run.append(ch)
    tokens.extend(_NON_CJK_TOKEN.findall("".join(run)))
    return tokens


def _longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Official ``find_lcs``: despite its name, the longest common *contiguous* run."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                best = max(best, cur[j + 1])
        prev = cur
    return best


def cmrc_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best CMRC 2018 F1 against any gold: precision/recall of the longest common
    contiguous run of :func:`cmrc_segment` tokens (0.0 if there are no golds)."""
    pred = cmrc_segment(prediction)
    best = 0.0
    for gold in _golds(golds):
        ans = cmrc_segment(gold)
        common = _longest_common_run(ans, pred)
        if common:
            precision, recall = common / len(pred), common / len(ans)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def cmrc_exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if prediction and a gold agree after :func:`cmrc_remove_punctuation`, else 0.0."""
    pred = cmrc_remove_punctuation(prediction)
    return float(any(pred == cmrc_remove_punctuation(g) for g in _golds(golds)))


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def _strip_trailing_punct(s: str) -> str:
    end = len(s)
    while end and (unicodedata.category(s[end - 1]).startswith("P") or s[end - 1].isspace()):
        end -= 1
    return s[:end]


def _answer_pattern(gold: str, word_edges: bool) -> str:
    """Regex for ``gold`` that does not start/end inside a number ("6" vs "16", "6.5") nor,
    with ``word_edges``, inside a word. An edge that is punctuation gets no guard."""
    edge = r"\w" if word_edges else r"\d"
    pre = f"(?<!{edge})" if re.match(edge, gold[0]) else ""
    post = f"(?!{edge})" if re.match(edge, gold[-1]) else ""
    pre += r"(?<!\d[.,])" if re.match(r"\d", gold[0]) else ""
    post += r"(?![.,]\d)" if re.match(r"\d", gold[-1]) else ""
    return pre + re.escape(gold) + post


def contains_answer(text: str, golds: Sequence[str], lang: str) -> bool:
    """Whether some gold answer occurs in ``text`` as a whole match.

    English (``lang`` "en..."): case-insensitive, whitespace collapsed, curly quotes folded,
    on word boundaries ("6 weeks" is not in "16 weeks", "art" is not in "party").
    Chinese (``lang`` "zh..."/"cn"): case-insensitive substring after removing all
    whitespace, but a number must not start/end inside a number. Both: a number is also not
    matched inside a decimal/grouped number, and each gold is tried as given and with
    trailing punctuation stripped ("…出场机会。"). Empty golds never match.
    """
    code = lang.lower()
    if code.startswith(("zh", "cn")):
        def prep(s: str) -> str:
            return "".join(s.split())
        word_edges = False
    elif code.startswith("en"):
        def prep(s: str) -> str:
            return " ".join(s.translate(_QUOTES).split())
        word_edges = True
    else:
        raise ValueError(f"unsupported language {lang!r}: use 'en' or 'zh'")
    haystack = prep(text)
    for gold in _golds(golds):
        g = prep(gold)
        for variant in {g, _strip_trailing_punct(g)}:
            pattern = _answer_pattern(variant, word_edges) if variant else None
            if pattern and re.search(pattern, haystack, re.IGNORECASE):
                return True
    return False


def _basename(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).name


def longest_common_substring(a: str, b: str) -> int:
    """Length of the longest common substring (difflib, no autojunk heuristic)."""
    if not a or not b:
        return 0
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def chunk_hits(chunk_text: str, chunk_source: str, gold_doc: str, gold_context: str) -> bool:
    """Retrieval hit: the chunk is from ``gold_doc`` (same file base name) and, whitespace
    collapsed, shares a common substring with ``gold_context`` of at least
    min(40, half the length of the shorter of the two) characters."""
    if _basename(chunk_source) != _basename(gold_doc):
        return False
    a, b = " ".join(chunk_text.split()), " ".join(gold_context.split())
    if not a or not b:
        return False
    need = min(40.0, min(len(a), len(b)) / 2)
    # Exact and much faster than running difflib on every pair (~15 ms for two 1000-char
    # English strings): a common substring of >= need characters exists iff some window of
    # ceil(need) characters occurs in both. longest_common_substring() gives the length.
    width = -(-int(need * 2) // 2)  # ceil(need); need is a multiple of 0.5 and >= 0.5
    short, long_ = sorted((a, b), key=len)
    grams = {long_[i : i + width] for i in range(len(long_) - width + 1)}
    return any(short[i : i + width] in grams for i in range(len(short) - width + 1))


def first_hit_rank(hits: Sequence[bool]) -> int | None:
    """1-based position of the first true value in ``hits``, or None."""
    return next((i for i, hit in enumerate(hits, start=1) if hit), None)


def _check(ranks: Sequence[int | None], k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if any(r is not None and r < 1 for r in ranks):
        raise ValueError("ranks are 1-based: every rank must be >= 1 or None")


def recall_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first hit is at rank <= k (0.0 for no questions)."""
    _check(ranks, k)
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Mean of 1/rank of the first hit, counting 0 when it is missing or beyond k."""
    _check(ranks, k)
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


@dataclass(frozen=True)
class RetrievalScores:
    """Recall@1/5/10 and MRR@10 over ``n`` questions."""

    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    n: int

    @classmethod
    def from_ranks(cls, ranks: Sequence[int | None]) -> RetrievalScores:
        """Scores from the 1-based rank of the first hit per question (None: no hit)."""
        r = [recall_at_k(ranks, k) for k in (1, 5, 10)]
        return cls(r[0], r[1], r[2], mrr_at_k(ranks, 10), len(ranks))

    def as_dict(self) -> dict[str, float | int]:
        """Keys "recall@1", "recall@5", "recall@10", "mrr@10", "n"."""
        return {"recall@1": self.recall_at_1, "recall@5": self.recall_at_5,
                "recall@10": self.recall_at_10, "mrr@10": self.mrr_at_10, "n": self.n}


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (1..99) of ``values``, interpolated; NaN for none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
