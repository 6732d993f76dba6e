"""Start a program as an unprivileged user when the folders it needs are behind one that user cannot enter.

    python -I -S sandbox.py --user NAME [--expose FOLDER]... -- PROGRAM [ARG]...

Run as root, in the program's working directory (already entered as root). In a private mount namespace (the
host's mounts are untouched), each folder above an exposed one that ``NAME`` cannot enter (``/root``, mode
0700, when Python was installed there by pyenv) is covered by an empty tmpfs, and the exposed folders are
bind-mounted back into it read-only; then the user is switched and the program run in place of this one (same
pid). So the program reaches its interpreter and libraries, and nothing else of the folder it was hidden in.

Standard library only, run with ``-I -S``: it starts in milliseconds and imports nothing from the project.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import stat
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
_LIBC = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _call(
        _LIBC.mount(
            source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
            ctypes.c_ulong(flags), data.encode() if data else None,
        ),
        f"mount {target}",
    )  # fmt: skip


def blocked_at(path: str, uid: int, gids: set[int]) -> str | None:
    """The top-most folder on the way to ``path`` (itself included) that the user cannot enter, or None."""
    parts = os.path.normpath(path).split("/")[1:]
    current = "/"
    for part in ["", *parts]:
        current = os.path.join(current, part) if part else current
        info = os.stat(current)
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return current
    return None


def expose(folders: list[str], uid: int, gids: set[int]) -> None:
    """Make ``folders`` reachable for the user in a new mount namespace of this process."""
    wanted = {f: blocked_at(f, uid, gids) for f in folders}
    wanted = {f: b for f, b in wanted.items() if b is not None}
    # A folder inside another exposed one comes with it.
    wanted = {f: b for f, b in wanted.items() if not any(f != o and f.startswith(o.rstrip("/") + "/") for o in wanted)}
    if not wanted:
        return
    _call(_LIBC.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below leaks to the host's mounts
    # Held open before they are covered (opened in the new namespace: a bind mount's source must be in it).
    handles = {folder: os.open(folder, os.O_PATH | os.O_DIRECTORY) for folder in wanted}
    for cover in sorted(set(wanted.values()), key=len):
        if any(cover.startswith(c.rstrip("/") + "/") for c in wanted.values() if c != cover):
            continue
        _mount("tmpfs", cover, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for folder, fd in handles.items():
        os.makedirs(folder, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", folder, None, MS_BIND | MS_REC)
        _mount(None, folder, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.close(fd)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: sandbox.py --user NAME [--expose FOLDER]... -- PROGRAM [ARG]...", file=sys.stderr)
        return 2
    split = argv.index("--")
    options, program = argv[:split], argv[split + 1 :]
    user, folders = "", []
    for flag, value in zip(options[::2], options[1::2], strict=False):
        if flag == "--user":
            user = value
        elif flag == "--expose":
            folders.append(value)
    entry = pwd.getpwnam(user)
    gids = {entry.pw_gid}
    try:
        expose(folders, entry.pw_uid, gids)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        os.execvp(program[0], program)
    except OSError as exc:
        print(f"mbops sandbox: cannot start {program[0]} as {user}: {exc}", file=sys.stderr)
        return 126
    return 0  # not reached: execvp replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
