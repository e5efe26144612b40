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

    `load_gray` returns the candidate's image (None when it cannot be decoded: nothing to review).
    The random baseline keeps the exclusions and the dedupe but no quotas (it is the plain baseline).
    """
    selection = Selection()
    exclusions = exclusions or Exclusions()
    caps = (
        math.ceil(config.budget * config.max_profile_share),
        math.ceil(config.budget * config.max_class_share),
    )
    profiles: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    seen = list(exclusions.hashes)
    ordered = order_candidates(candidates, config)
    selection.skipped["below_min_score"] = len(candidates) - len(ordered)
    for candidate in ordered:
        if len(selection.picked) >= config.budget:
            selection.skipped["over_budget"] += 1
            continue
        reason = _excluded(candidate, exclusions)
        if not reason and config.strategy == "mined":
            reason = _over_quota(candidate, profiles, classes, caps)
        if reason:
            selection.skipped[reason] += 1
            continue
        gray = load_gray(candidate)
        if gray is None:
            selection.skipped["unreadable_image"] += 1
            continue
        value = phash(gray)
        if _is_duplicate(value, seen, config.dedupe_max_distance):
            selection.skipped["near_duplicate"] += 1
            continue
        seen.append(value)
        profiles[candidate.profile] += 1
        classes.update(candidate.classes)
        selection.picked.append(Picked(candidate=candidate, phash=value, rank=len(selection.picked)))
    selection.skipped = Counter({k: v for k, v in selection.skipped.items() if v})
    return selection
