"""Patch: DIET's prediction calls its traced TensorFlow graph directly.

Replaces: ``rasa.utils.tensorflow.models.RasaModel._rasa_predict``.

Why: Rasa runs each prediction through the ``tf.function`` it traced on the
first call (with a fixed input signature). Every call then goes through
TensorFlow's dispatch: binding the arguments to the function type,
canonicalising them, looking the concrete function up again and checking
the structure, which for a one-message batch costs more than the graph
itself. The first call here is Rasa's own (it traces the function); after
that the inputs, converted to tensors and checked against the traced
signature (dtype and shape), go straight to that concrete function's graph
(``ConcreteFunction._call_flat``, TensorFlow 2.12). Anything that does not
match the signature, and eager mode, go to Rasa's original, which decides as
it always did.

Measured: the ``tf.function`` call of DIET took 1.24 ms per message, the
direct call 0.43 ms, same outputs (in process, this model); the call was 6%
of a loaded Rasa server's samples (``make profile``); tested to give DIET's
exact outputs on the held-out messages and every parse of whole
conversations (tests/bot/test_perf_patches.py).
"""

from __future__ import annotations

from typing import Any, Optional

from bot.rasa_compat.patch import Patch

# id(tf.function) -> (that tf.function, its concrete function, the flat input signature).
_TRACED: dict[int, tuple[Any, Any, list[Any]]] = {}


def predict_through_traced_graph(self: Any, batch_in: tuple[Any, ...]) -> dict[str, Any]:
    """``RasaModel._rasa_predict`` without ``tf.function``'s per-call dispatch once the graph is traced."""
    traced = self._tf_predict_step
    if self._run_eagerly or traced is None or not self.prepared_for_prediction:
        outputs: dict[str, Any] = PATCH.original()(self, batch_in)
        return outputs
    concrete, signature = _concrete(traced)
    tensors = _matching_tensors(batch_in, signature)
    if tensors is None:
        outputs = PATCH.original()(self, batch_in)
        return outputs
    from keras.utils import tf_utils
    from rasa.shared.constants import DIAGNOSTIC_DATA

    self._training = False
    outputs = tf_utils.sync_to_numpy_or_python_type(concrete._call_flat(tensors, concrete.captured_inputs))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


def _concrete(traced: Any) -> tuple[Any, list[Any]]:
    known = _TRACED.get(id(traced))
    if known is None or known[0] is not traced:
        import tensorflow as tf

        concrete = traced.get_concrete_function()  # the one its input signature traced
        known = (traced, concrete, tf.nest.flatten(concrete.structured_input_signature))
        _TRACED[id(traced)] = known
    return known[1], known[2]


def _matching_tensors(batch_in: tuple[Any, ...], signature: list[Any]) -> Optional[list[Any]]:
    """The batch as tensors when it matches the traced signature; None otherwise."""
    import tensorflow as tf

    if len(batch_in) != len(signature):
        return None
    tensors = [tf.convert_to_tensor(value) for value in batch_in]
    if not all(spec.is_compatible_with(tensor) for spec, tensor in zip(signature, tensors, strict=True)):
        return None
    return tensors


PATCH = Patch(
    module="rasa.utils.tensorflow.models",
    owner="RasaModel",
    attribute="_rasa_predict",
    replacement=predict_through_traced_graph,
    upstream_sha256="7f745b0f9cb647c9df9e5b04b318a7b93709daf9460bad4373970c6cf9f04d8f",
)
