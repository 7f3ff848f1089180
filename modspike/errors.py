"""Typed errors that the CLI turns into a one-line message and exit code 2.

Every stage raises a subclass of :class:`ModspikeError` for bad input, so that a user never sees a
traceback from deep inside a library.
"""

from __future__ import annotations


class ModspikeError(Exception):
    """Bad input or an unsupported request; the message is meant for the user."""

    exit_code = 2


class DataError(ModspikeError):
    """A data set is missing, unreadable or malformed."""


class ConfigError(ModspikeError):
    """An option or combination of options is not valid."""


class CheckpointError(ModspikeError):
    """A run directory or checkpoint is missing or unreadable."""


class QuantizationError(ModspikeError):
    """A network cannot be put on the fixed-point grid (NaN/Inf, or a value beyond its bit width)."""


class NIRError(ModspikeError):
    """A NIR file or graph is unreadable, malformed, or uses something modspike cannot run."""


class ArtifactError(ModspikeError):
    """A deployable artifact is missing, corrupted, fails its checksums or is from a newer schema."""


class HardwareError(ModspikeError):
    """A hardware backend (Lava, Loihi 2) is missing, or cannot run the requested network."""


class EnergyProfileError(ModspikeError):
    """An energy cost profile is missing, lacks a required key or holds a non-numeric value."""


class EnergyRatioError(ModspikeError):
    """Two energies that are not like for like: different tiers, constant sets or scopes."""


class PlasticityError(ModspikeError):
    """A learning rule or plastic connection has parameters the learning engine cannot represent."""


class OutputError(ModspikeError):
    """An output target (``--out``) is unsafe, already taken, or cannot be written."""


class OutOfSpaceError(OutputError):
    """The file system ran out of space (or quota) while writing an output; nothing was left."""
