"""Patch: predictions run the graph node after node, without dask.

Replaces: ``rasa.core.processor.DaskGraphRunner`` (the name the message
processor builds its prediction graph runner from) with
:class:`SequentialGraphRunner`. Rasa's training keeps dask.

Why: Rasa 3.6 hands every prediction to dask's synchronous scheduler: it copies
the graph schema, builds a dask graph and orders it anew on each call, twice
or more per message (NLU once, the policies once per action). For a graph of
a dozen nodes that bookkeeping cost about as much as the DIET classifier.
This runner works out each target set's execution order once and then calls
the same GraphNode objects in that order, with the same inputs and results.

Measured: dask's planning was 6% of a loaded Rasa server's CPU
(``make profile``); tested to predict exactly what the dask runner predicts
on a whole conversation (tests/bot/test_graph_runner.py).
"""

from __future__ import annotations

import graphlib
from typing import Any, Optional

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

from bot.rasa_compat.patch import Patch

# Each node with the names of what it needs (other nodes or inputs), in order.
Plan = list[tuple[str, list[str]]]


class SequentialGraphRunner(DaskGraphRunner):
    """``DaskGraphRunner`` with a cached execution order and no dask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[str, ...], Plan] = {}

    def run(self, inputs: Optional[dict[str, Any]] = None, targets: Optional[list[str]] = None) -> dict[str, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        plan = self._plan(tuple(run_targets))
        results = self._input_results(inputs, plan)
        try:
            for node_name, needs in plan:
                # As dask does, an input nobody provided is passed on as its name
                # (the node then says which input is missing).
                results[node_name] = self._instantiated_nodes[node_name](*[results.get(need, need) for need in needs])
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(results[target] for target in run_targets)

    def _plan(self, targets: tuple[str, ...]) -> Plan:
        if targets not in self._plans:
            nodes = self._graph_schema.minimal_graph_schema(list(targets)).nodes
            order = graphlib.TopologicalSorter(
                {name: [need for need in node.needs.values() if need in nodes] for name, node in nodes.items()}
            ).static_order()
            self._plans[targets] = [(name, list(nodes[name].needs.values())) for name in order]
        return self._plans[targets]

    @staticmethod
    def _input_results(inputs: Optional[dict[str, Any]], plan: Plan) -> dict[str, Any]:
        inputs = inputs or {}
        names = {name for name, _ in plan} | set(inputs)
        for value in inputs.values():
            # Rasa refuses these: dask would have taken the value for that node's output.
            if isinstance(value, str) and value in names:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure that none of the "
                    f"input names passed to the `run` method are the same as node names in the graph schema."
                )
        return {name: (name, value) for name, value in inputs.items()}


PATCH = Patch(
    module="rasa.core.processor",
    owner="",
    attribute="DaskGraphRunner",
    replacement=SequentialGraphRunner,
    upstream_sha256="78a7d146c5c06d4cfd29638bbb20192183bfcd8cc69d2cb2be198c8e87a4c134",
)
