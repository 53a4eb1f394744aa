"""SimPy components of the simulated world, one concept a module; `simulate` runs one design."""

from sim.model.run import simulate

__all__ = ["simulate"]
