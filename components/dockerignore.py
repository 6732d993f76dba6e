"""Which files of a build context Docker sends: the ``.dockerignore`` rules, as the docker SDK applies them.

A port of ``docker.utils.build.PatternMatcher`` (itself after moby's fileutils), kept here because importing
the docker SDK costs about half a second, and a plan only needs these rules to hash the context. The tests
check it against the SDK on generated trees, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


class _Pattern:
    def __init__(self, text: str) -> None:
        self.exclusion = text.startswith("!")
        parts = _split((text[1:] if self.exclusion else text).strip())
        i = 0
        while i < len(parts):  # "a/../b" -> "b", as filepath.Clean does
            if parts[i] == "..":
                del parts[i]
                if i > 0:
                    del parts[i - 1]
                    i -= 1
            else:
                i += 1
        self.dirs = parts
        self.cleaned = "/".join(parts)

    def match(self, path: str) -> bool:
        return _regex(self.cleaned.lower()).match(path.lower()) is not None


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    """A shell pattern as a regex: ``**`` any depth, ``*`` and ``?`` within one path part, ``[...]`` classes."""
    out, i, n = "^", 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= n else "(.*/)?"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = i + (1 if i < n and pattern[i] == "!" else 0)
            j += 1 if j < n and pattern[j] == "]" else 0
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out += "\\["
            else:
                stuff = pattern[i:j].replace("\\", "\\\\")
                i = j + 1
                stuff = f"^{stuff[1:]}" if stuff[0] == "!" else f"\\{stuff}" if stuff[0] == "^" else stuff
                out += f"[{stuff}]"
        else:
            out += re.escape(c)
    return re.compile(out + "$")


class Matcher:
    """``.dockerignore`` patterns; ``excluded(path)`` says whether a context-relative path is left out."""

    def __init__(self, patterns: list[str], dockerfile: str = "Dockerfile") -> None:
        self.patterns = [p for p in (_Pattern(t) for t in [*patterns, f"!{dockerfile}"]) if p.dirs]
        self.patterns.append(_Pattern("!.dockerignore"))

    def excluded(self, path: str) -> bool:
        matched = False
        parent = os.path.dirname(path)
        parent_dirs = _split(parent)
        for pattern in self.patterns:
            found = pattern.match(path)
            if not found and parent and len(pattern.dirs) <= len(parent_dirs):
                found = pattern.match("/".join(parent_dirs[: len(pattern.dirs)]))
            if found:
                matched = not pattern.exclusion
        return matched

    def walk(self, root: Path) -> Iterator[str]:
        """Context-relative paths Docker sends (files and folders), in ``os.listdir`` order."""

        def descend(current: Path) -> Iterator[str]:
            for name in os.listdir(current):
                rel = os.path.relpath(current / name, root)
                excluded = self.excluded(rel)
                if not excluded:
                    yield rel
                full = root / rel
                if not full.is_dir() or full.is_symlink():
                    continue
                if excluded and not any(p.exclusion and p.cleaned.startswith(rel) for p in self.patterns):
                    continue
                yield from descend(full)

        return descend(root)


def context_files(root: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """The context's paths Docker sends for ``root`` (its ``.dockerignore`` applied), sorted."""
    ignore = root / ".dockerignore"
    lines = ignore.read_text().splitlines() if ignore.is_file() else []
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return sorted(Matcher(patterns, dockerfile).walk(root))
