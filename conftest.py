"""Test-suite setup shared by the tests and the notebooks."""

import os


def pytest_configure(config):
    # The notebooks (run by nbmake, in kernels that inherit this environment) shrink their
    # runs when SIM_QUICK is "1". `SIM_QUICK=0 python -m pytest notebooks` runs them in full.
    os.environ.setdefault("SIM_QUICK", "1")
