"""Errors of the condensation tools, each raised with a one-line message."""
from mmeff.data.checks import DatasetError


class CondenseError(DatasetError):
    """Bad input to recover or relabel: settings, folders or files.

    A :class:`~mmeff.data.checks.DatasetError`, so ``tools/train.py`` reports
    a bad relabel folder in a student config as one line, like other data
    errors.
    """


class NoBatchNormError(CondenseError):
    """The teacher has no BatchNorm layer whose statistics could be matched."""
