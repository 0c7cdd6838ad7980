"""Sparse features from the pinyin of each token, so homophone typos look alike.

Chinese shoppers type through pinyin input methods; a slip picks a character
that sounds the same (退款 → 推款, 人工 → 仁工, 快递 → 快第). Characters and
words then differ, but the toneless pinyin is the same (tui kuan, ren gong,
kuai di). This featurizer is a CountVectorsFeaturizer over pinyin syllables
instead of characters: with ``max_ngram: 2`` the sentence features hold
syllable pairs, whatever way jieba split the misspelt word.
"""

from __future__ import annotations

import functools

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.constants import TEXT


@functools.lru_cache(maxsize=50_000)
def to_pinyin(token: str) -> str:
    """Toneless pinyin syllables separated by spaces; non-Chinese text kept as it is.

    Tones are dropped on purpose: input methods match syllables without
    tones, so a slip usually keeps the syllable and changes the tone.
    """
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(token))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class PinyinCountVectorsFeaturizer(CountVectorsFeaturizer):
    """CountVectorsFeaturizer (word analyzer) over the pinyin of the user's tokens."""

    def _process_tokens(self, tokens: list[str], attribute: str = TEXT) -> list[str]:
        tokens = super()._process_tokens(tokens, attribute)
        if attribute != TEXT:
            return tokens
        return [to_pinyin(token) for token in tokens]
