"""Deprecations: old spellings keep working for one release, with a warning naming the new.

Example:

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     renamed_argument("Thing", "importance", 3, "data", None)
3
>>> str(caught[0].message)
'Thing: `importance=` is deprecated and will be removed in kerasprune 0.4: use `data=`.'
"""

from __future__ import annotations

import importlib
import warnings

from kerasprune.core.caller import user_stacklevel

REMOVED_IN = "0.4"


def renamed_argument(owner: str, old: str, old_value, new: str, new_value):
    """The value of argument `new`, taken from its old name `old` (with a warning) when only
    that one was given."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise ValueError(f"{owner}: give `{new}=` only (`{old}=` is its old name).")
    warnings.warn(
        f"{owner}: `{old}=` is deprecated and will be removed in kerasprune {REMOVED_IN}: "
        f"use `{new}=`.", DeprecationWarning, stacklevel=user_stacklevel())
    return old_value


def moved_name(package: str, name: str, moved: dict[str, str]):
    """A name `package` no longer exports (for a module's `__getattr__`): found at its new
    home `moved[name]` (`"module:attribute"`), with a warning naming it."""
    if name not in moved:
        raise AttributeError(f"module '{package}' has no attribute '{name}'")
    module, attribute = moved[name].split(":")
    warnings.warn(
        f"`{package}.{name}` is deprecated and will be removed in kerasprune {REMOVED_IN}: "
        f"use `{module}.{attribute}`.", DeprecationWarning, stacklevel=user_stacklevel())
    return getattr(importlib.import_module(module), attribute)
