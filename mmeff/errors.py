"""The common base of every error mmeff raises on purpose.

Each mmeff error also keeps the built-in type it has always had
(``DatasetError`` is a ``ValueError``, ``CheckpointError`` a
``RuntimeError``, ...), so ``except ValueError`` still catches what it did,
and ``except MMEffError`` catches any of them.
"""


class MMEffError(Exception):
    """An error raised by mmeff about its input, state or environment."""


class ConfigError(MMEffError, ValueError):
    """A config file is missing or cannot be parsed, or a config value is
    invalid."""


class MissingExtraError(MMEffError, ImportError):
    """A component needs a package of an optional extra that is not
    installed."""


def import_extra(module, extra, purpose):
    """Import ``module``, or raise :class:`MissingExtraError` in one line
    naming the extra that installs it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f'{purpose} needs {module}, which is not installed: install '
            f"mmeff's [{extra}] extra (pip install 'mmeff[{extra}]')"
        ) from err
