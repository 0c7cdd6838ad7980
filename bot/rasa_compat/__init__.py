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

Upgrading Rasa: :func:`install` refuses any version but ``RASA_VERSION``.
``tests/bot/test_rasa_compat.py`` compares each upstream original with the
hash its patch pins; the ones that fail are the patches to read again.
"""

from __future__ import annotations

import importlib
import logging
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
)

_LOCK = threading.Lock()


def patches() -> tuple[Patch, ...]:
    """Every patch, in the order install() applies them (importing them changes nothing)."""
    return tuple(importlib.import_module(f"{__name__}.{name}").PATCH for name in PATCH_MODULES)


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

    Refuses (``RuntimeError``) a Rasa version other than ``RASA_VERSION``, and
    (``AttributeError``) a target Rasa no longer defines, before changing anything.
    """
    check_rasa_version()
    with _LOCK:
        if not INSTALLED:
            todo = [(patch, patch.target(), patch.upstream()) for patch in patches()]
            for patch, target, original in todo:
                setattr(target, patch.attribute, patch.replacement)
                INSTALLED[patch.name] = Installed(target, patch.attribute, original, patch.replacement)
            logger.info(
                "Rasa %s patched by bot.rasa_compat (%d patches: %s)",
                RASA_VERSION,
                len(todo),
                ", ".join(name for name in PATCH_MODULES),
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
