"""Reproducible batching (chunk=N): a column's result does not depend on how many columns
the call has, on where the column sits, or on which columns share its chunk."""

import numpy as np
import pytest

from hybridge.testing import models

# hybridge.manifest.read_manifest opens models with torch.jit.load.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

CHUNK = 16


@pytest.fixture
def chunked_full(open_model, mlp_v1, v1_x):
    model = open_model(mlp_v1, options={"chunk": CHUNK})
    return model, model.run({"x": v1_x})["y"]


@pytest.mark.parametrize(
    "columns",
    [[0], [383], list(range(100, 107)), list(range(40)), [5, 383, 17, 200, 0], list(range(383, -1, -1))],
)
def test_column_result_independent_of_batch(chunked_full, v1_x, columns):
    model, full = chunked_full
    got = model.run({"x": v1_x[columns]})["y"]
    assert got.tobytes() == full[columns].tobytes()


def test_chunked_run_equals_reference_on_same_chunks(chunked_full, mlp_v1, v1_x):
    """Each chunk is what Python computes on those 16 columns (the last one padded)."""
    _, full = chunked_full
    for first in (0, 368):
        want, _ = models.reference(mlp_v1, {"x": v1_x[first : first + CHUNK]})
        assert full[first : first + CHUNK].tobytes() == want["y"].tobytes()
    # ncol = 7: one chunk of 16, columns 7..15 copies of the last real column.
    model = chunked_full[0]
    padded = np.concatenate([v1_x[:7], np.repeat(v1_x[6:7], CHUNK - 7, axis=0)])
    want, _ = models.reference(mlp_v1, {"x": padded})
    assert model.run({"x": v1_x[:7]})["y"].tobytes() == want["y"][:7].tobytes()


def test_recurrent_chunked_state_is_per_column(open_model, recurrent):
    """With chunks of 3, a 7-column recurrent run keeps each column's state apart."""
    from hybridge.manifest import read_manifest

    manifest = read_manifest(recurrent)
    model = open_model(recurrent, options={"chunk": 3})
    x0 = models.example_inputs(manifest, 7, seed=0)
    x1 = models.example_inputs(manifest, 7, seed=1)
    model.run(x0)
    y = model.run(x1)["y"]
    for col in (0, 6):
        single = open_model(recurrent, options={"chunk": 3})
        single.run({"x": x0["x"][col : col + 1]})
        assert single.run({"x": x1["x"][col : col + 1]})["y"].tobytes() == y[col : col + 1].tobytes()
