"""A process's log writer: ``python -m mbops.components.local.stamp LOG`` timestamps each line read on stdin.

The local target pipes an app's stdout and stderr through it, so ``mbops logs`` shows when each line was
written (``2026-12-03T17:40:01.123Z <line>``). It appends to LOG (mode 0600), moves a log over 10 MiB to
``LOG.1`` (one previous generation), and exits when the app and its children have closed the pipe.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

MAX_LOG_BYTES = 10 * 1024 * 1024


def stamp(line: bytes) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return now.encode() + b" " + line if line.endswith(b"\n") else now.encode() + b" " + line + b"\n"


def main(path: str) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for line in sys.stdin.buffer:
            os.write(fd, stamp(line))
            if os.fstat(fd).st_size > MAX_LOG_BYTES:
                os.close(fd)
                os.replace(path, f"{path}.1")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
