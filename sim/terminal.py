"""Printing to a terminal, a pipe or a file that may not take what is printed.

The results folder is written before anything is printed, so printing may fail without
losing a run: a reader that goes away (`| head -1`) ends the run quietly, and a stream
whose encoding cannot show a character (`PYTHONIOENCODING=ascii`, an old Windows console)
gets an ASCII spelling of it (`±` becomes `+/-`) instead of an error.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

#: ASCII spellings of the characters the tables and messages use.
ASCII = str.maketrans(
    {
        "±": "+/-",
        "×": "x",
        "−": "-",
        "–": "-",
        "—": "--",
        "≤": "<=",
        "≥": ">=",
        "…": "...",
        "→": "->",
        "µ": "u",
        "·": ".",
        "’": "'",
    }
)
#: Exit status of a program whose reader went away, as shells report a SIGPIPE death.
EXIT_BROKEN_PIPE = 141


def say(text: str = "", stream: TextIO | None = None) -> None:
    """Print a line, in ASCII spellings if the stream's encoding cannot take it."""
    stream = stream if stream is not None else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        text = text.translate(ASCII).encode(encoding, "replace").decode(encoding)
    stream.write(text + "\n")


def silence_stdout() -> None:
    """Send whatever is still to be printed nowhere: after a broken pipe or a full disk,
    so that flushing at exit does not fail again with a message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture, say): nothing will be flushed to it
