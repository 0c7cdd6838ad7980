"""Patch: ``RemoteAction._validate_action_result`` checks each event against its own type.

Replaces: ``rasa.core.actions.action.RemoteAction._validate_action_result``,
which checks every answer of the action server against Rasa's response schema.

Why: that schema lists the 23 event types under ``oneOf``, so every event is
tried against all of them and each mismatch builds an error object; Rasa
also compiled the schema on every custom action call. The types differ in
their ``event`` constant, so an event is valid exactly when it is valid for
the type its ``event`` names: the validators are built once and each event
is checked against its own type only. An answer that fails this quick check
goes through Rasa's full schema, so a broken answer still gets Rasa's error.

Measured: compiling the schema cost about 25 ms per custom action call on
this machine; after that, trying every event type was 7% of a loaded Rasa
server's CPU (``make profile``). Tested to accept exactly what Rasa's check
accepts on 1,500 valid and broken answers (tests/bot/test_rasa_fixes.py).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from bot.rasa_compat.patch import Patch


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server's answer, with each event checked by its own type."""
    if _passes_by_event_type(result):
        return True
    return _validate_with_rasas_schema(result)


def _passes_by_event_type(result: Any) -> bool:
    if not _response_envelope_validator().is_valid(result):
        return False
    by_type = _event_validators()
    for event in result.get("events") or []:
        kind = event.get("event") if isinstance(event, dict) else None
        validator = by_type.get(kind) if isinstance(kind, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_with_rasas_schema(result: Any) -> bool:
    from jsonschema import ValidationError

    try:
        _full_response_validator().validate(result)
        return True
    except ValidationError as error:
        # The message Rasa's own check gives.
        error.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid."
        )
        raise error


def _rasas_response_schema() -> dict[str, Any]:
    from rasa.core.actions.action import RemoteAction

    return RemoteAction.action_response_format_spec()


@functools.cache
def _full_response_validator() -> Any:
    return _validator_for(_rasas_response_schema())


@functools.cache
def _response_envelope_validator() -> Any:
    """Rasa's schema with the events only required to be a list (each is checked by its type)."""
    schema = copy.deepcopy(_rasas_response_schema())
    schema["properties"]["events"] = {"type": "array"}
    return _validator_for(schema)


@functools.cache
def _event_validators() -> dict[str, Any]:
    """For each event type (its ``event`` constant), the schema an event of that type must meet."""
    event_schema = _rasas_response_schema()["properties"]["events"]["items"]
    common = {key: value for key, value in event_schema.items() if key != "oneOf"}
    return {
        alternative["properties"]["event"]["const"]: _validator_for({**common, "allOf": [alternative]})
        for alternative in event_schema["oneOf"]
    }


def _validator_for(schema: dict[str, Any]) -> Any:
    from jsonschema.validators import validator_for

    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


PATCH = Patch(
    module="rasa.core.actions.action",
    owner="RemoteAction",
    attribute="_validate_action_result",
    replacement=validate_action_result,
    upstream_sha256="f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42",
)
