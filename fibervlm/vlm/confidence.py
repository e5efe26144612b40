"""The model's own confidence in an answer, read off the probabilities of the tokens it generated.

Most tokens of a constrained answer are forced by the grammar (keys, brackets: probability 1) or carry
detail the verdict does not hang on (box digits, the explanation's words). Two choices make the answer:
whether the defect list is empty (the token after `"defects": [`, a `]` or a `{`) and the verdict (the
token that starts `PASS` or `FAIL`). The confidence is the probability the model gave that pair, the
product of the two tokens' probabilities among the tokens the grammar allowed there: 1.0 when both were
certain, about 0.25 when both were coin flips. Mining's active-learning band ([0.3, 0.6] by default)
picks the answers the model was unsure of.

>>> text = '{"defects": [], "pass_fail": "PASS", "explanation": "clean"}'
>>> ends = [13, 15, 30, 31, 34, 36, len(text)]  # where each generated token ends in `text`
>>> probs = [1.0, 0.8, 1.0, 0.6, 1.0, 1.0, 1.0]
>>> decision_tokens(text, ends)  # the `],` token and the `P` token
[1, 3]
>>> round(answer_confidence(text, ends, probs), 2)
0.48
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence

# Where the two decisions are taken: the first character after each match.
DECISIONS = (re.compile(r'"defects"\s*:\s*\['), re.compile(r'"pass_fail"\s*:\s*"'))


def decision_tokens(text: str, token_ends: Sequence[int]) -> list[int] | None:
    """Indices of the tokens holding the first character of each decision; None if one is missing."""
    tokens: list[int] = []
    for pattern in DECISIONS:
        match = pattern.search(text)
        if match is None or match.end() >= len(text):
            return None
        index = bisect.bisect_right(token_ends, match.end())  # first token ending after that character
        if index >= len(token_ends):
            return None
        if index not in tokens:
            tokens.append(index)
    return tokens


def answer_confidence(text: str, token_ends: Sequence[int], token_probs: Sequence[float]) -> float | None:
    """The probability of the answer's decisions (see the module docstring); None when the backend gave
    no token probabilities or the answer lacks a decision (an invalid answer)."""
    if not token_probs or len(token_probs) != len(token_ends):
        return None
    tokens = decision_tokens(text, token_ends)
    if tokens is None:
        return None
    return float(math.prod(token_probs[i] for i in tokens))
