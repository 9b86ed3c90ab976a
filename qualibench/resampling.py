"""The bootstrap's resampling weights: how often each test of a cell is drawn, per replicate.

They depend on the campaign seed, the cell's key, its number of tests and the number of
replicates only, never on the figures: `qualibench report` has them drawn ahead, on the
machine's other core while this process still starts (qualibench.report.chart_worker), and the
analytics take them from that table (`ahead`) or draw them here. One stream per cell either
way, so the replicates are the same whoever drew them. numpy only: the process drawing ahead
has loaded neither the database layer nor pandas.
"""

from __future__ import annotations

import zlib

import numpy as np


def cell_weights(seed: int, brand_key: str, channel: str, n: int, b: int) -> np.ndarray:
    """Return the (b, n) multinomial counts of a cell of n tests: its own stream, seeded by the seed and its key."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{brand_key}|{channel}".encode())])
    return rng.multinomial(n, np.full(n, 1.0 / n), size=b)


def weights_table(seed: int, b: int, cells: list[tuple[str, str, int]]) -> dict[tuple[str, str, int], np.ndarray]:
    """Return (brand_key, channel, n) -> cell_weights of each cell, as small integers.

    A count is at most n: uint8 holds it (an eighth of the bytes crossing the pipe), and the
    analytics turn every count into a float as they do the ones drawn in place.
    """
    return {(bk, ch, n): cell_weights(seed, bk, ch, n, b).astype(np.uint8 if n < 256 else np.int64)
            for bk, ch, n in cells}
