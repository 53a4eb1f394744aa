"""Ctrl-C and SIGTERM while `python -m sim` starts: exit 130 at once, no traceback.

Importing pandas, matplotlib and SimPy takes seconds on a loaded machine; a Ctrl-C in
that time would otherwise print a `KeyboardInterrupt` traceback from deep in an import.
`sim/__init__.py` imports this module first of all, before any heavy import, and importing
it makes those signals quiet exits, but only when `sim` is the program being run
(`python -m sim`, or the `sim` script), never when `sim` is imported as a library. The
command line then takes over signals itself (`sim.cli`), and gives them back to this quiet
handler when it is done.
"""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130


def launched_as_command() -> bool:
    """Whether this process is `python [options] -m sim ...` or the `sim` script."""
    argv = list(getattr(sys, "orig_argv", []))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "sim":
        return True
    return os.path.basename(sys.argv[0] if sys.argv else "") in ("sim", "sim.exe")


def quiet_exit(signum: int, frame: object) -> None:
    """Nothing has been written yet (or everything has): leave now, quietly."""
    os.write(2, b"interrupted: nothing written\n")
    os._exit(EXIT_INTERRUPTED)


def quiet_until_ready() -> None:
    """Make Ctrl-C and SIGTERM quiet exits, if this process is the `sim` command."""
    if launched_as_command():
        signal.signal(signal.SIGINT, quiet_exit)
        signal.signal(signal.SIGTERM, quiet_exit)


quiet_until_ready()  # on import, so that it holds from the moment this module is loaded
