"""Pick K rows for review: best score first, under per-profile and per-class quotas, never an image
already labelled, in the hold-out, or a near-duplicate of one already picked (pHash)."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fibervlm.mining.config import MiningConfig
from fibervlm.mining.phash import phash
from fibervlm.mining.score import Candidate


@dataclass(frozen=True)
class Exclusions:
    """Images that must not be picked: by id, and by pHash (a re-encoded copy has another id)."""

    labelled_ids: frozenset[str] = frozenset()
    holdout_ids: frozenset[str] = frozenset()
    hashes: tuple[int, ...] = ()  # pHashes of the labelled and hold-out images


@dataclass
class Picked:
    """A selected candidate, its pHash and its rank in the queue."""

    candidate: Candidate
    phash: int
    rank: int


@dataclass
class Selection:
    """What was picked and why the others were not (counts by reason)."""

    picked: list[Picked] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def _over_quota(
    candidate: Candidate, profiles: Counter[str], classes: Counter[str], caps: tuple[int, int]
) -> str:
    profile_cap, class_cap = caps
    if profiles[candidate.profile] >= profile_cap:
        return "profile_quota"
    if any(classes[c] >= class_cap for c in candidate.classes):
        return "class_quota"
    return ""


def _excluded(candidate: Candidate, exclusions: Exclusions) -> str:
    if candidate.image_id in exclusions.holdout_ids:
        return "in_holdout"
    if candidate.image_id in exclusions.labelled_ids:
        return "already_labelled"
    return ""


def _is_duplicate(value: int, seen: Iterable[int], max_distance: int) -> bool:
    return any((value ^ other).bit_count() <= max_distance for other in seen)


def order_candidates(candidates: Sequence[Candidate], config: MiningConfig) -> list[Candidate]:
    """Best first (ties by image id, so a run is reproducible); `random`: a seeded shuffle of all rows."""
    if config.strategy == "random":
        shuffled = sorted(candidates, key=lambda c: c.image_id)
        random.Random(config.seed).shuffle(shuffled)
        return shuffled
    ranked = [c for c in candidates if c.score >= config.min_score]
    return sorted(ranked, key=lambda c: (-c.score, c.image_id))


def select(
    candidates: Sequence[Candidate],
    config: MiningConfig,
    *,
    load_gray: Callable[[Candidate], np.ndarray | None],
    exclusions: Exclusions | None = None,
) -> Selection:
    """Walk the ordered candidates and keep those that pass every check until the budget is spent.

    Quotas shape the mix but never leave budget unspent: when the first pass stops short, a second pass
    takes the best of the candidates the quotas held back (counted as `quota_relaxed`). `load_gray`
    returns the candidate's image (None when it cannot be decoded: nothing to review). The random
    baseline keeps the exclusions and the dedupe but no quotas (it is the plain baseline).
    """
    exclusions = exclusions or Exclusions()
    ordered = order_candidates(candidates, config)
    walk = _Walk(config, load_gray, list(exclusions.hashes))
    walk.skipped["below_min_score"] = len(candidates) - len(ordered)
    held_back = [c for c in ordered if not walk.offer(c, exclusions, quotas=config.strategy == "mined")]
    held_back = [c for c in held_back if walk.reasons.get(c.image_id, "").endswith("_quota")]
    for candidate in held_back:
        quota = walk.reasons[candidate.image_id]
        walk.skipped[quota] -= 1
        if walk.offer(candidate, exclusions, quotas=False):
            walk.skipped["quota_relaxed"] += 1
        elif len(walk.picked) >= config.budget:
            walk.skipped[quota] += 1  # the budget is spent: it stays held back by its quota
    walk.skipped["over_budget"] = (
        len(ordered)
        - len(walk.picked)
        - sum(
            v for k, v in walk.skipped.items() if k not in ("below_min_score", "over_budget", "quota_relaxed")
        )
    )
    skipped = Counter({k: v for k, v in walk.skipped.items() if v > 0})
    return Selection(picked=walk.picked, skipped=skipped)


class _Walk:
    """The state of one selection pass: what is picked, the hashes seen, the quota counters."""

    def __init__(
        self, config: MiningConfig, load_gray: Callable[[Candidate], np.ndarray | None], hashes: list[int]
    ) -> None:
        self.config, self.load_gray, self.seen = config, load_gray, hashes
        self.caps = (
            math.ceil(config.budget * config.max_profile_share),
            math.ceil(config.budget * config.max_class_share),
        )
        self.profiles: Counter[str] = Counter()
        self.classes: Counter[str] = Counter()
        self.picked: list[Picked] = []
        self.skipped: Counter[str] = Counter()
        self.reasons: dict[str, str] = {}

    def _skip(self, candidate: Candidate, reason: str) -> bool:
        self.reasons[candidate.image_id] = reason
        self.skipped[reason] += 1
        return False

    def offer(self, candidate: Candidate, exclusions: Exclusions, *, quotas: bool) -> bool:
        """Pick `candidate` if the budget, exclusions, quotas (when on) and dedupe allow it."""
        if len(self.picked) >= self.config.budget:
            return False
        reason = _excluded(candidate, exclusions)
        if not reason and quotas:
            reason = _over_quota(candidate, self.profiles, self.classes, self.caps)
        if reason:
            return self._skip(candidate, reason)
        gray = self.load_gray(candidate)
        if gray is None:
            return self._skip(candidate, "unreadable_image")
        value = phash(gray)
        if _is_duplicate(value, self.seen, self.config.dedupe_max_distance):
            return self._skip(candidate, "near_duplicate")
        self.seen.append(value)
        self.profiles[candidate.profile] += 1
        self.classes.update(candidate.classes)
        self.picked.append(Picked(candidate=candidate, phash=value, rank=len(self.picked)))
        return True
