"""SimPy components of the simulated world, one concept a module; `simulate` runs one design.

`simulate` is imported on first use, so that the broker designs (`sim.designs`), which
the run imports, can use the components here without a circular import.
"""

from __future__ import annotations

__all__ = ["simulate"]


def __getattr__(name: str):
    if name == "simulate":
        from sim.model.run import simulate

        return simulate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
