"""The sequential graph runner predicts exactly what Rasa's dask runner predicts."""
from __future__ import annotations

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine import loader
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat.graph_runner import SequentialGraphRunner

CONVERSATION = ["你好", "我要退款", "订单号 230915-123456789012", "商家不同意退款", "有人让我刷单返利",
                "转人工", "量子纠缠怎么理解", "asdfgh", "谢谢"]


@pytest.fixture(scope="module")
def loaded(trained_model, tmp_path_factory):
    metadata, dask_runner = loader.load_predict_graph_runner(
        tmp_path_factory.mktemp("dask"), trained_model, LocalModelStorage, DaskGraphRunner)
    _, sequential = loader.load_predict_graph_runner(
        tmp_path_factory.mktemp("sequential"), trained_model, LocalModelStorage, SequentialGraphRunner)
    return metadata, dask_runner, sequential


def parse(runner, metadata, text: str, tracker: DialogueStateTracker):
    results = runner.run(inputs={PLACEHOLDER_MESSAGE: [UserMessage(text)], PLACEHOLDER_TRACKER: tracker},
                         targets=[metadata.nlu_target])
    data = results[metadata.nlu_target][0].data
    return {key: data.get(key) for key in ("intent", "intent_ranking", "entities")}


def predict(runner, metadata, tracker: DialogueStateTracker):
    prediction = runner.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=[metadata.core_target])[metadata.core_target]
    return prediction.probabilities, prediction.policy_name, prediction.events


def test_a_conversation_is_understood_and_answered_as_with_dask(loaded):
    metadata, dask_runner, sequential = loaded
    tracker = DialogueStateTracker("runner-test", metadata.domain.slots)
    for event in [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]:
        tracker.update(event)
    for text in CONVERSATION:
        parsed = parse(sequential, metadata, text, tracker)
        assert parsed == parse(dask_runner, metadata, text, tracker), text
        tracker.update(UserUttered(text, parsed["intent"], parsed["entities"]), metadata.domain)
        for _ in range(5):  # the actions the bot takes until it listens again
            expected = predict(dask_runner, metadata, tracker)
            assert predict(sequential, metadata, tracker) == expected, text
            action = metadata.domain.action_names_or_texts[max(range(len(expected[0])), key=expected[0].__getitem__)]
            tracker.update(ActionExecuted(action))
            if action == ACTION_LISTEN_NAME:
                break


def test_an_input_value_naming_a_node_is_refused_as_rasa_does(loaded):
    metadata, _, sequential = loaded
    with pytest.raises(GraphRunError, match="clashes"):
        sequential.run(inputs={PLACEHOLDER_TRACKER: metadata.core_target}, targets=[metadata.core_target])


def test_the_bot_predicts_with_the_sequential_runner(agent):
    assert isinstance(agent.processor.graph_runner, SequentialGraphRunner)
