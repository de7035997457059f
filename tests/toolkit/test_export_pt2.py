"""Export as an AOTInductor package (.pt2): every model family the toolkit trains, the CLI,
the public API with a recurrent state, the check against the eager model and its errors.

Packages are compiled once per model and torch when HYBRIDGE_PT2_CACHE is set (make test).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybridge.checkpoint import load_checkpoint, save_checkpoint
from hybridge.cli import main as cli_main
from hybridge.data import V1
from hybridge.data.normalization import climsim_normalization
from hybridge.export import ExportError, emulator_from_checkpoint, export_checkpoint, export_model
from hybridge.export.pt2 import Agreement, _agree, _in_float64
from hybridge.manifest import TensorSpec, model_checksum, read_manifest
from hybridge.model_file import PT2, load_model, model_format
from hybridge.models import build_model
from hybridge.testing import models as fixtures

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:`torch.jit:DeprecationWarning")

SMALL = {
    "mlp": {"hidden": [32]},
    "resmlp": {"width": 16, "blocks": 1},
    "unet1d": {"channels": 4},
    "reslstm": {"hidden": 8, "layers": 1},
}


def _checkpoint(name, path):
    torch.manual_seed(0)
    net = build_model(name, V1, SMALL[name])
    save_checkpoint(
        {
            "model": name,
            "model_options": SMALL[name],
            "variables": V1.to_dict(),
            "dt": 1200.0,
            "normalization": climsim_normalization(V1).to_tensors(),
            "state_dict": net.state_dict(),
        },
        path,
    )
    return path


def _engine(path):
    """The package loaded by the engine through the C ABI, or None when it is not built."""
    from hybridge import core

    try:
        core.library_path()
    except FileNotFoundError:
        return None
    return core.Model(path, options={"threads": torch.get_num_threads()})


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_family_exports_as_pt2(name, tmp_path):
    """Normalization and physics inside, any number of columns (1 included), within the
    stated tolerance of the eager emulator (hybridge.export.pt2's docstring)."""
    ckpt = _checkpoint(name, tmp_path / "c.pt")
    m = export_checkpoint(ckpt, tmp_path / "m.pt2", format="pt2")
    path = tmp_path / "m.pt2"
    assert model_format(path) == PT2 and m.checksum == model_checksum(path)
    assert m.physics and m.provenance["format"] == "pt2", "physics options travel in the manifest"
    assert "eager model" in m.provenance["export_check"]
    eager, _, _, _ = emulator_from_checkpoint(load_checkpoint(ckpt), ckpt)
    package = load_model(path)
    engine = _engine(path)
    norm = climsim_normalization(V1)
    mean, spread = torch.from_numpy(norm.x_mean).float(), torch.from_numpy(norm.x_range).float()
    g = torch.Generator().manual_seed(1)
    for ncol in (1, 5, 384):
        x = mean + 0.1 * spread * torch.randn(ncol, V1.n_in, generator=g)
        with torch.no_grad():
            want, got = eager(x), package(x)
        assert got.shape == (ncol, V1.n_out)
        agreement = Agreement()
        _agree(agreement, TensorSpec("y", [V1.n_out]), want, got, f"{ncol} columns", _in_float64(eager, [x]))
        assert not agreement.failure, f"{name}: {agreement.failure}"
        if engine is not None:  # the engine runs the package as Python does, bit for bit
            engine_y = engine.run({"x": x.double().numpy()})["y"]
            assert engine_y.tobytes() == got.double().numpy().tobytes(), f"{name}, {ncol} columns, engine"


def test_cli_export_pt2_and_inspect(trained, tmp_path, capsys):
    out = tmp_path / "emulator.pt2"
    assert cli_main(["export", str(trained / "best.pt"), "-o", str(out), "--format", "pt2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "export check: " in printed
    assert read_manifest(out).checksum == model_checksum(out)
    assert cli_main(["inspect", str(out)]) == 0
    assert "(verified)" in capsys.readouterr().out


def test_export_model_with_recurrent_state(tmp_path):
    """The public API, a state whose column axis is 1: the recurrent fixture's model."""
    torch.manual_seed(0)
    m = export_model(
        fixtures._Recurrent(),
        tmp_path / "gru.pt2",
        inputs=[{"name": "x", "shape": [8]}],
        outputs=[{"name": "y", "shape": [4]}],
        states=[{"name": "h", "shape": [2, 16], "batch_axis": 1}],
        format="pt2",
    )
    assert [s.batch_axis for s in m.states] == [1]
    package = load_model(tmp_path / "gru.pt2")
    for ncol in (1, 3):
        y, h = package(torch.randn(ncol, 8), torch.zeros(2, ncol, 16))
        assert y.shape == (ncol, 4) and h.shape == (2, ncol, 16)


def test_scripted_module_is_refused(tmp_path):
    scripted = torch.jit.script(build_model("mlp", V1, SMALL["mlp"]))
    with pytest.raises(ExportError, match="TorchScript module; the pt2 format exports the eager"):
        export_model(
            scripted,
            tmp_path / "m.pt2",
            inputs=[{"name": "x", "shape": [V1.n_in]}],
            outputs=[{"name": "y", "shape": [V1.n_out]}],
            format="pt2",
        )
    assert not (tmp_path / "m.pt2").exists()


def test_untraceable_model_is_named(tmp_path):
    """A forward that branches on the number of columns cannot take a dynamic column axis."""
    with pytest.raises(ExportError, match=r"model 'raiser' cannot be exported by torch\.export"):
        export_model(
            fixtures._Raiser(),
            tmp_path / "r.pt2",
            name="raiser",
            example_inputs=torch.randn(3, 4),
            inputs=[{"name": "x", "shape": [4]}],
            outputs=[{"name": "y", "shape": [4]}],
            format="pt2",
        )
    assert list(tmp_path.iterdir()) == [], "no file and no scratch folder left behind"


def _spec():
    return TensorSpec("y", [3])


def test_check_reports_ulps_within_tolerance():
    eager = torch.tensor([[1.0, -2.0, 0.0], [3.0, 4.0, 1e-3]])
    package = eager.clone()
    package[1, 0] = torch.nextafter(package[1, 0], torch.tensor(10.0))
    package[1, 0] = torch.nextafter(package[1, 0], torch.tensor(10.0))
    a = Agreement()
    _agree(a, _spec(), eager, package, "2 columns")
    assert a.failure == "" and a.max_ulps == 2
    assert "'y' y[0], column 1 of 2 columns" in a.where and "max 2 ulps" in a.text()
    assert 0 < a.used < 0.01 and "% of the difference rounding allows" in a.text()
    same = Agreement()
    _agree(same, _spec(), eager, eager.clone(), "2 columns")
    assert same.text() == "bit for bit equal to the eager model"


def test_check_refuses_a_real_mismatch_and_nan():
    eager = torch.tensor([[1.0, -2.0, 0.5], [3.0, 4.0, 0.25]])
    wrong = eager.clone()
    wrong[0, 2] = 0.6
    a = Agreement()
    _agree(a, _spec(), eager, wrong, "2 columns")
    assert "'y' y[2], column 0 of 2 columns" in a.failure and "beyond rounding" in a.failure
    nan = eager.clone()
    nan[1, 1] = float("nan")
    b = Agreement()
    _agree(b, _spec(), eager, nan, "2 columns")
    assert "NaN" in b.failure
    assert np.isnan(nan.numpy()).sum() == 1
