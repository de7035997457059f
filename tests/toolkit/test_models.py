"""Every model: v1/v2 shapes, scriptable with identical results, seeded and deterministic."""

import pytest
import torch

from hybridge.data import V1, V2
from hybridge.models import build_model

SMALL = {
    "mlp": {"hidden": [32]},
    "resmlp": {"width": 16, "blocks": 1},
    "unet1d": {"channels": 4, "depth": 2},
    "reslstm": {"hidden": 8, "layers": 2},
}


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("varset", [V1, V2], ids=["v1", "v2"])
def test_model_shapes_script_and_determinism(name, varset):
    torch.manual_seed(0)
    a = build_model(name, varset, SMALL[name])
    torch.manual_seed(0)
    b = build_model(name, varset, SMALL[name])
    x = torch.randn(7, varset.n_in)
    y = a(x)
    assert y.shape == (7, varset.n_out)
    assert torch.equal(y, b(x))
    assert torch.equal(torch.jit.script(a)(x), y)


def test_level_models_keep_columns_independent():
    """A column's output must not depend on the other columns in the batch."""
    torch.manual_seed(0)
    for name in ("unet1d", "reslstm"):
        m = build_model(name, V1, SMALL[name])
        x = torch.randn(5, V1.n_in)
        torch.testing.assert_close(m(x)[2:3], m(x[2:3]))


def test_unknown_model_or_option_is_named():
    with pytest.raises(ValueError, match="unknown model 'cnn'"):
        build_model("cnn", V1)
    with pytest.raises(ValueError, match=r"model 'mlp' has no option 'widht'; its options: hidden \(default"):
        build_model("mlp", V1, {"widht": 3})
    with pytest.raises(ValueError, match="hidden must be positive integer widths"):
        build_model("mlp", V1, {"hidden": [0]})


def test_one_integer_is_one_hidden_layer():
    """``--set model_options="{hidden: 64}"`` (issue 19): one hidden layer of 64."""
    m = build_model("mlp", V1, {"hidden": 64})
    assert [layer.out_features for layer in m.net if isinstance(layer, torch.nn.Linear)] == [64, V1.n_out]


@pytest.mark.parametrize("name", ["unet1d", "reslstm"])
def test_level_models_take_any_number_of_levels(name):
    """8 levels, no scalar output: the level axis comes from the variable set."""
    from hybridge.data import VariableSet

    varset = VariableSet("eight", (("state_t", 8), ("state_ps", 1)), (("ptend_t", 8),))
    m = build_model(name, varset, SMALL[name])
    x = torch.randn(3, varset.n_in)
    assert m(x).shape == (3, 8) and torch.equal(torch.jit.script(m)(x), m(x))
