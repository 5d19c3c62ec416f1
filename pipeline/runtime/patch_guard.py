"""The version guard every patch module's ``apply()`` calls first.

Each patch module (``faust_patch``, ``exactly_once``, ``read_committed``, ``empty_fetch``,
``group_rejoin``) fixes a dependency at its depth by replacing one of its internals: on a version
it was not written against it must refuse, not patch something that has changed under it.
"""

from __future__ import annotations

from types import ModuleType


def require_version(module: str, package: ModuleType, patched: frozenset[str], check: str) -> None:
    """Raise unless ``package`` (faust, aiokafka) is at a version in ``patched``; ``check`` says
    what to look at in a new version before adding it."""
    installed = str(package.__version__)
    if installed not in patched:
        raise RuntimeError(
            f"{module} was written against {package.__name__} {', '.join(sorted(patched))}, "
            f"not {installed}: {check}"
        )
