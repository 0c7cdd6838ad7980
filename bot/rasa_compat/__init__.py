"""Our replacements of Rasa internals, for one Rasa version, switched on by ``install()``.

Each module here is one patch: it says what it replaces in Rasa, why, and
what it measured, and ends with a ``PATCH`` (:class:`bot.rasa_compat.patch.Patch`)
naming the Rasa attribute, the replacement, and the sha256 of the upstream
source it was written against.

Importing this package or any of its modules changes nothing in Rasa. The
patches are switched on in one place only: ``bot.nlg.ServiceNaturalLanguageGenerator``
calls :func:`install` when Rasa builds it. Every endpoints file of the bot
names that NLG, and Rasa builds the NLG in ``Agent.__init__``, before it loads
the model or handles a message, so ``make run``, ``make cluster``, plain
``rasa run`` / ``rasa shell`` / ``rasa interactive`` in the project root and
the tests' in-process agents all run with the patches.

``RASA_COMPAT_SKIP`` (comma-separated names of ``PATCH_MODULES``) leaves
those patches out, Rasa's own code runs instead: to measure a patch's effect
on a running server (``bench/scale.py --parts before``), or to switch one off
without a release. A name that is no patch is refused before anything changes.

Upgrading Rasa: :func:`install` refuses any version but ``RASA_VERSION``.
``tests/bot/test_rasa_compat.py`` compares each upstream original with the
hash its patch pins; the ones that fail are the patches to read again.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading

from bot.rasa_compat.patch import INSTALLED, Installed, Patch

logger = logging.getLogger(__name__)

# The Rasa version every patch was written and tested against.
RASA_VERSION = "3.6.21"

# In the order install() applies them.
PATCH_MODULES = (
    "action_response_check",
    "tracker_copy",
    "applied_events",
    "action_call_body",
    "form_tracker",
    "graph_runner",
    "sparse_features",
    "action_timeout",
    "turn_metrics",
    "tracker_store_errors",
    "pika_publish",
    "memoization_debug",
    "prediction_states",
    "diet_predict",
    "endpoint_session",
)

_LOCK = threading.Lock()
# Patches install() leaves out (names of PATCH_MODULES, comma-separated).
SKIP_ENV = "RASA_COMPAT_SKIP"


def patches() -> tuple[Patch, ...]:
    """Every patch, in the order install() applies them (importing them changes nothing)."""
    return tuple(importlib.import_module(f"{__name__}.{name}").PATCH for name in PATCH_MODULES)


def skipped() -> list[str]:
    """The patches ``RASA_COMPAT_SKIP`` names; ``ValueError`` for a name that is no patch."""
    names = [name.strip() for name in os.environ.get(SKIP_ENV, "").split(",") if name.strip()]
    unknown = [name for name in names if name not in PATCH_MODULES]
    if unknown:
        raise ValueError(f"{SKIP_ENV} names no patch: {', '.join(unknown)} (patches: {', '.join(PATCH_MODULES)})")
    return names


def check_rasa_version() -> None:
    """Raise ``RuntimeError`` unless the installed Rasa is ``RASA_VERSION``."""
    import rasa

    if rasa.__version__ != RASA_VERSION:
        raise RuntimeError(
            f"bot.rasa_compat patches Rasa {RASA_VERSION} internals, but Rasa {rasa.__version__} is installed. "
            f"Install rasa=={RASA_VERSION} (requirements.txt), or port the patches: run "
            "tests/bot/test_rasa_compat.py to see which upstream functions changed, read each of those "
            "patches against the new source, then update their hashes and RASA_VERSION."
        )


def install() -> list[Installed]:
    """Replace the Rasa internals listed in ``PATCH_MODULES``; a second call changes nothing.

    Refuses (``RuntimeError``) a Rasa version other than ``RASA_VERSION``,
    (``AttributeError``) a target Rasa no longer defines, and (``ValueError``) a
    ``RASA_COMPAT_SKIP`` name that is no patch, before changing anything.
    """
    check_rasa_version()
    with _LOCK:
        if not INSTALLED:
            left_out = skipped()
            named = zip(PATCH_MODULES, patches(), strict=True)
            chosen = [(name, patch) for name, patch in named if name not in left_out]
            todo = [(patch, patch.target(), patch.upstream()) for _, patch in chosen]
            for patch, target, original in todo:
                setattr(target, patch.attribute, patch.replacement)
                INSTALLED[patch.name] = Installed(target, patch.attribute, original, patch.replacement)
            logger.info(
                "Rasa %s patched by bot.rasa_compat (%d patches: %s)%s",
                RASA_VERSION,
                len(todo),
                ", ".join(name for name, _ in chosen),
                f"; left out by {SKIP_ENV}: {', '.join(left_out)}" if left_out else "",
            )
        return installed()


def installed() -> list[Installed]:
    """What install() changed: (target, attribute, original, replacement), in order; empty if nothing."""
    return list(INSTALLED.values())


def installed_names() -> list[str]:
    return list(INSTALLED)


def uninstall() -> None:
    """Put every original back (for tests)."""
    with _LOCK:
        for record in reversed(list(INSTALLED.values())):
            setattr(record.target, record.attribute, record.original)
        INSTALLED.clear()
