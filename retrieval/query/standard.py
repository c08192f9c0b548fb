"""Standard scores of one signal over a question's candidates: what fusion and the learned ranker both read."""

from __future__ import annotations

import numpy as np

# Where a candidate without the signal (no question word at all) stands, in standard deviations.
MISSING_Z = -3.0


def standard_scores(values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Standard scores over the candidates (invalid ones at :data:`MISSING_Z`)."""
    values = np.asarray(values, dtype=np.float64)
    valid = np.ones(len(values), dtype=bool) if valid is None else valid
    if valid.sum() < 2:
        return np.where(valid, 0.0, MISSING_Z)
    spread = float(values[valid].std()) or 1.0
    return np.where(valid, (values - values[valid].mean()) / spread, MISSING_Z)
