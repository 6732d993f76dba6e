"""Errors a user can act on, each with the exit code the CLI returns for it (see README, "Exit codes")."""

from __future__ import annotations


class MbopsError(Exception):
    """Base class: a message meant for the user, never a traceback."""

    exit_code = 1


class DeployError(MbopsError):
    """A deployment step failed (exit 1)."""

    exit_code = 1


class ConfigError(MbopsError):
    """Bad input: a stack file, a flag or a profile (exit 2)."""

    exit_code = 2


class PolicyViolationError(MbopsError):
    """A mandatory policy rule is violated (exit 3)."""

    exit_code = 3


class MissingToolError(MbopsError):
    """A required external tool (e.g. the Pulumi CLI) is not installed (exit 4)."""

    exit_code = 4
