"""The one tolerance rule every validation test uses.

A mean over independent replications must lie within `Z` = 4 standard errors of theory
(P(|t_19| > 4) ≈ 0.0008 for 20 replications: a correct model passes reliably). Where
`wrong` values are given (the theory for a model with a 10% error), each must lie more
than 2 Z SE away, so such a model's measurements, centred on it, would fail: the check
has the power it claims.
"""

from __future__ import annotations

import numpy as np

Z = 4.0


def assert_close(values, theory: float, what: str, wrong=()) -> None:
    values = np.asarray(values, dtype=float)
    mean = values.mean()
    se = values.std(ddof=1) / np.sqrt(len(values))
    print(f"{what}: measured {mean:.5g}, theory {theory:.5g}, tolerance ±{Z * se:.3g}")
    for alternative in wrong:
        assert abs(alternative - theory) > 2 * Z * se, f"{what}: too imprecise (SE {se:.3g})"
    assert abs(mean - theory) <= Z * se, (
        f"{what}: measured {mean:.4g} ± {se:.2g} (SE), theory {theory:.4g}"
    )
