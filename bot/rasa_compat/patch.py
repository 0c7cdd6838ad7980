"""What a patch is, and the record of the ones installed.

A :class:`Patch` names one attribute of Rasa (a method of a class, or a name
in a module), the function or class that replaces it, and the sha256 of the
upstream source it was written against (``inspect.getsource`` of Rasa
3.6.21's original). ``bot.rasa_compat.install()`` sets the replacements and
keeps each original here, so that the replacements can call it, the tests can
compare against it, and ``uninstall()`` can put it back.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, NamedTuple


class Installed(NamedTuple):
    """One installed patch: ``target.attribute`` was ``original`` and is now ``replacement``."""

    target: Any
    attribute: str
    original: Any
    replacement: Any


# Patch name -> what install() changed; empty while nothing is installed.
INSTALLED: dict[str, Installed] = {}


@dataclass(frozen=True)
class Patch:
    """The replacement of ``<module>.<owner>.<attribute>`` (``owner`` empty: a module attribute)."""

    module: str
    owner: str
    attribute: str
    replacement: Any
    # sha256 of inspect.getsource(original) in the Rasa version the patch was written against.
    upstream_sha256: str

    @property
    def name(self) -> str:
        return ".".join(part for part in (self.module, self.owner, self.attribute) if part)

    def target(self) -> Any:
        """The class or module whose attribute is replaced."""
        module = importlib.import_module(self.module)
        return getattr(module, self.owner) if self.owner else module

    def upstream(self) -> Any:
        """Rasa's own attribute as the target defines it now (the replacement once installed).

        Raises ``AttributeError`` when the target no longer defines it itself
        (renamed, removed, or moved to a base class): setting it would add an
        attribute nothing reads.
        """
        target = self.target()
        try:
            return vars(target)[self.attribute]
        except KeyError:
            raise AttributeError(
                f"{self.name}: Rasa no longer defines this attribute, so the patch would change nothing"
            ) from None

    def original(self) -> Any:
        """Rasa's original: the one install() kept, or the current one when not installed."""
        installed = INSTALLED.get(self.name)
        return installed.original if installed else self.upstream()

    def is_installed(self) -> bool:
        return getattr(self.target(), self.attribute, None) is self.replacement


def source_sha256(obj: Any) -> str:
    """sha256 (hex) of ``inspect.getsource(obj)``, as pinned in ``Patch.upstream_sha256``."""
    return hashlib.sha256(inspect.getsource(obj).encode("utf-8")).hexdigest()
