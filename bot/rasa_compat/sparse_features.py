"""Patch: two featurizers' sparse features side by side without ``scipy.sparse.hstack``.

Replaces: ``rasa.shared.nlu.training_data.features.Features._combine_sparse_features``.

Why: DIET reads each message's sparse features from three featurizers,
combined with ``scipy.sparse.hstack``, whose general-purpose checks cost
more than the work for 1-row matrices. Two COO matrices side by side are
their entries with the second's columns shifted; :func:`hstack_coo` builds
exactly what hstack builds (bmat's dtype, index dtype and entry order).
Anything but two COO matrices with as many rows goes to Rasa's original.

Measured: ``hstack`` took about 0.5 ms per call, four calls per message; the
direct concatenation builds the same matrix in a third of the time (found in
``make profile``). Tested equal to scipy's result and to Rasa's features
(tests/bot/test_rasa_fixes.py).
"""

from __future__ import annotations

from typing import Any

from bot.rasa_compat.patch import Patch


def combine_sparse_features(self: Any, additional_features: Any) -> None:
    """``Features._combine_sparse_features`` with a direct COO concatenation."""
    from scipy.sparse import coo_matrix

    ours, theirs = self.features, additional_features.features
    if not (type(ours) is coo_matrix and type(theirs) is coo_matrix and ours.shape[0] == theirs.shape[0]):
        PATCH.original()(self, additional_features)
        return
    self.features = hstack_coo(ours, theirs)
    self._cached_fingerprint = None


def hstack_coo(left: Any, right: Any) -> Any:
    """``scipy.sparse.hstack([left, right])`` for two COO matrices with as many rows."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse._sputils import get_index_dtype, upcast

    shape = (left.shape[0], left.shape[1] + right.shape[1])
    index_dtype = get_index_dtype(maxval=max(shape))
    data = np.concatenate([left.data, right.data]).astype(upcast(left.dtype, right.dtype), copy=False)
    row = np.concatenate([left.row.astype(index_dtype), right.row.astype(index_dtype)])
    col = np.concatenate([left.col.astype(index_dtype), right.col.astype(index_dtype) + left.shape[1]])
    return coo_matrix((data, (row, col)), shape=shape)


PATCH = Patch(
    module="rasa.shared.nlu.training_data.features",
    owner="Features",
    attribute="_combine_sparse_features",
    replacement=combine_sparse_features,
    upstream_sha256="9837d864e5983243704cf14616ef9abe181c6f141cc0f9b324c4310629cc133d",
)
