"""The out-of-distribution guard (issue 15): inputs and outputs against the training ranges
the manifest records. fallback: exactly the columns out of range are reported, with the first
value out of range, and nothing else; clip: inputs and outputs are clipped to the widened
range; results per column do not depend on how the columns are split over calls (ranks)."""

import numpy as np
import pytest
import torch
from expect import raises

from hybridge.core import Model
from hybridge.manifest import Manifest, TensorSpec, save_model
from hybridge.testing import models

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


class _Double(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * x


def _stats(n, lo, hi):
    return {"min": [lo] * n, "max": [hi] * n, "mean": [(lo + hi) / 2] * n, "std": [(hi - lo) / 4] * n}


@pytest.fixture(scope="module")
def doubled(tmp_path_factory):
    """y = 2x, x [4] trained on [0, 1], y [4] on [0, 2]."""
    path = tmp_path_factory.mktemp("guard") / "double.pt"
    manifest = Manifest(
        inputs=[TensorSpec("x", [4], training=_stats(4, 0.0, 1.0))],
        outputs=[TensorSpec("y", [4], training=_stats(4, 0.0, 2.0))],
    )
    with models._torchscript():
        save_model(torch.jit.script(_Double()), manifest, path)
    return path


def _columns():
    x = np.full((7, 4), 0.5)
    x[2, 1] = 5.0  # out of range: column 2, value 1
    x[5, 3] = -0.5  # out of range (below 0 - 0.1): column 5, value 3
    x[6, 0] = 1.05  # within the margin of 0.1 * range
    return x


def test_fallback_reports_exactly_the_columns_out_of_range(doubled):
    x = _columns()
    with Model(doubled, options={"guard": "fallback", "guard_margin": 0.1}) as m:
        y = m.run({"x": x})["y"]
        first_in, first_out = m.guard_columns(7)
    assert first_in.tolist() == [-1, -1, 1, -1, -1, 3, -1]
    assert first_out.tolist() == [-1, -1, 1, -1, -1, 3, -1]
    np.testing.assert_array_equal(y, 2 * x.astype(np.float32))  # fallback changes no value


def test_clip_clips_inputs_and_outputs_to_the_widened_range(doubled):
    x = _columns()
    with Model(doubled, options={"guard": "clip", "guard_margin": 0.1}) as m:
        y = m.run({"x": x})["y"]
        first_in, first_out = m.guard_columns(7)
    assert first_in.tolist() == [-1, -1, 1, -1, -1, 3, -1]
    # the clipped inputs give outputs at the edge of the output range (flagged or not by float32
    # rounding there); outputs are clipped to it, so nothing beyond reaches the host
    assert set(first_out.tolist()) <= {-1, 1, 3}
    assert y.max() <= 2.2 and y.min() >= -0.2
    assert y[2, 1] == pytest.approx(2.2, abs=1e-6) and y[5, 3] == pytest.approx(-0.2, abs=1e-6)
    assert (x == _columns()).all()  # the caller's inputs are not touched


def test_a_constant_feature_is_judged_as_the_model_sees_it(tmp_path):
    """Training data are float32: a feature that never varied has min == max at a float32
    value. A float64 host value that rounds to it is in range (the model sees that value),
    however small the margin; one float32 step away is out."""
    q_top = np.float32(1.7756963e-06)
    path = tmp_path / "constant.pt"
    stats = {
        "min": [float(q_top)] * 4,
        "max": [float(q_top)] * 4,
        "mean": [float(q_top)] * 4,
        "std": [0.0] * 4,
    }
    manifest = Manifest(
        inputs=[TensorSpec("x", [4], training=stats)],
        outputs=[TensorSpec("y", [4], training=_stats(4, -1.0, 1.0))],
    )
    with models._torchscript():
        save_model(torch.jit.script(_Double()), manifest, path)
    x = np.full((3, 4), float(q_top))
    x[0, 2] = 1.7756962753312847e-06  # float64, rounds to q_top in float32
    x[1, 1] = float(np.nextafter(q_top, np.float32(1.0)))  # the next float32
    with Model(path, options={"guard": "fallback", "guard_margin": 0.0}) as m:
        m.run({"x": x})
        first_in, _ = m.guard_columns(3)
    assert x[0, 2] != float(q_top) and first_in.tolist() == [-1, 1, -1]


def test_the_report_does_not_depend_on_the_decomposition(doubled):
    x = _columns()
    with Model(doubled, options={"guard": "fallback", "chunk": 2}) as m:
        m.run({"x": x})
        whole = m.guard_columns(7)
        parts = []
        for a, b in ((0, 3), (3, 7)):
            m.run({"x": x[a:b]})
            parts.append(m.guard_columns(b - a))
    for k in (0, 1):
        assert np.concatenate([p[k] for p in parts]).tolist() == whole[k].tolist()


def test_a_guard_needs_training_ranges(mlp_small):
    with raises("HYB_ERR_MANIFEST", "guard needs the training range", "input 'x'", "guard=off"):
        Model(mlp_small, options={"guard": "fallback"})


@pytest.mark.parametrize("margin", ["-0.1", "nan", "inf", "x", "1e9"])
def test_a_bad_margin_is_refused(margin):
    m = Model()
    try:
        with raises("HYB_ERR_ARGUMENT", "option guard_margin", margin):
            m.set_option("guard_margin", margin)
    finally:
        m.free()


def test_no_report_without_a_guard_or_before_a_run(doubled):
    with Model(doubled) as m, raises("HYB_ERR_ORDER", "no guard"):
        m.guard_columns(1)
    with Model(doubled, options={"guard": "clip"}) as m:
        with raises("HYB_ERR_ORDER", "before the first run"):
            m.guard_columns(1)
        m.run({"x": np.zeros((3, 4))})
        with raises("HYB_ERR_SHAPE", "ncol=2", "3 columns"):
            m.guard_columns(2)
