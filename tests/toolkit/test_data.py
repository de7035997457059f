"""ClimSim file layout, variable sets, targets, normalization, streaming pipeline."""

import netCDF4
import numpy as np
import pytest
import torch

from hybridge.data import (
    V1,
    V2,
    ClimSimStream,
    find_pairs,
    get_variable_set,
    load_grid,
    make_loader,
    read_pair,
    split_by_time,
)
from hybridge.data.files import read_surface_pressure
from hybridge.data.normalization import climsim_normalization, data_normalization
from hybridge.data.variables import VariableSetError


def test_files_are_laid_out_as_climsim(climsim_data):
    pairs = find_pairs(climsim_data)
    assert len(pairs) == 24
    first = pairs[0]
    assert first.mli.parent.name == "0001-02"
    assert first.mli.name == "E3SM-MMF.mli.0001-02-28-79200.nc"
    assert pairs[-1].mli.parent.name == "0001-03"  # crosses the month (noleap February)
    assert [p.time for p in pairs] == sorted(p.time for p in pairs)
    with netCDF4.Dataset(first.mli) as d:
        assert d.dimensions["ncol"].size == 384 and d.dimensions["lev"].size == 60
        assert d["state_t"].dimensions == ("lev", "ncol")
        assert d["state_ps"].dimensions == ("ncol",)
        np.testing.assert_allclose(d["lat"][:], load_grid().lat)


def test_other_case_prefix_is_accepted_and_filtered(climsim_data, tmp_path):
    from hybridge.data.synthetic import write_climsim_dataset

    write_climsim_dataset(tmp_path, n_steps=2, case="HYBRIDGE-HOST")
    assert len(find_pairs(tmp_path)) == 2
    assert len(find_pairs(tmp_path, case="HYBRIDGE-HOST")) == 2
    with pytest.raises(ValueError, match=r"no <case>\.mli"):
        find_pairs(tmp_path, case="E3SM-MMF")


def test_variable_sets_have_climsim_sizes():
    assert (V1.n_in, V1.n_out) == (124, 128)
    assert (V2.n_in, V2.n_out) == (557, 368)
    assert V1.offsets("in")["state_ps"] == (120, 1)
    assert V1.offsets("out")["cam_out_PRECC"] == (123, 1)


def test_targets_are_tendencies_and_cam_out(climsim_data):
    pair = find_pairs(climsim_data)[0]
    x, y = read_pair(pair, V1)
    ps = read_surface_pressure(pair)
    assert x.shape == (384, 124) and y.shape == (384, 128) and x.dtype == np.float32
    with netCDF4.Dataset(pair.mli) as mli, netCDF4.Dataset(pair.mlo) as mlo:
        t0, t1 = mli["state_t"][:].T, mlo["state_t"][:].T
        np.testing.assert_allclose(x[:, :60], t0, rtol=1e-6)
        np.testing.assert_allclose(y[:, :60], (t1 - t0) / 1200.0, rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(y[:, 123], mlo["cam_out_PRECC"][:], rtol=1e-6)
        np.testing.assert_array_equal(ps, mli["state_ps"][:])
    x2, y2 = read_pair(pair, V2)
    assert x2.shape == (384, 557) and y2.shape == (384, 368)


def test_user_variable_set_from_yaml_and_python(tmp_path, climsim_data):
    spec = tmp_path / "vars.yaml"
    spec.write_text(
        "name: tq\ninputs: [state_t, state_q0001, [state_ps, 1]]\n"
        "outputs: [ptend_t, {name: cam_out_PRECC, size: 1}]\n"
    )
    vs = get_variable_set(str(spec))
    assert (vs.name, vs.n_in, vs.n_out) == ("tq", 121, 61)
    py = tmp_path / "vars.py"
    py.write_text("VARIABLES = {'name': 'tonly', 'inputs': ['state_t'], 'outputs': ['ptend_t']}\n")
    assert get_variable_set(str(py)).n_in == 60
    x, y = read_pair(find_pairs(climsim_data)[0], vs)
    assert x.shape == (384, 121) and y.shape == (384, 61)
    spec.write_text("inputs: [state_t]\noutputs: [state_t]\n")
    with pytest.raises(VariableSetError, match="output 'state_t' must be a ptend_"):
        get_variable_set(str(spec))


def test_split_by_time_and_stride(climsim_data):
    pairs = find_pairs(climsim_data)
    train, val = split_by_time(pairs, val_fraction=0.25)
    assert len(train) == 18 and len(val) == 6
    assert max(p.time for p in train) < min(p.time for p in val)
    train, val = split_by_time(pairs, stride=5, val_from="0001-03-01")
    # 79200 s to 85200 s on 28 February are 6 steps of 1200 s; the rest is March
    assert train == pairs[:6][::5] and val == pairs[6:][::5]


def test_climsim_normalization_uses_reference_files():
    n = climsim_normalization(V1)
    assert n.y_scale[0] == pytest.approx(1004.64)  # cp for ptend_t
    assert n.y_scale[60] == pytest.approx(2834700.0)  # Lv + Lf for ptend_q0001
    assert n.x_mean.shape == (124,) and np.all(n.x_range > 0)


def test_data_normalization_matches_in_memory(climsim_data):
    pairs = find_pairs(climsim_data)[:3]
    n = data_normalization(pairs, V1)
    xs, ys = zip(*[read_pair(p, V1) for p in pairs], strict=True)
    x, y = np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64)
    np.testing.assert_allclose(n.x_mean, x.mean(0), rtol=1e-9)
    np.testing.assert_allclose(n.x_range, x.max(0) - x.min(0), rtol=1e-9)
    np.testing.assert_allclose(n.y_scale, 1.0 / y.std(0), rtol=1e-6)


def _rows(loader):
    return torch.cat([x for x, _ in loader])


def test_stream_covers_every_sample_once_across_shards_workers_and_cache(climsim_data, tmp_path):
    pairs = find_pairs(climsim_data)[:6]
    ref = np.concatenate([read_pair(p, V1)[0] for p in pairs])
    key = lambda a: np.sort(a[:, 0] * 1e3 + a[:, 120])  # noqa: E731 (a column's fingerprint)
    shards = [_rows(make_loader(ClimSimStream(pairs, V1, 100, rank=r, world_size=2, seed=3))) for r in (0, 1)]
    assert sum(s.shape[0] for s in shards) == ref.shape[0]
    np.testing.assert_array_equal(key(torch.cat(shards).numpy()), key(ref))
    workers = _rows(make_loader(ClimSimStream(pairs, V1, 100), num_workers=2))
    np.testing.assert_array_equal(key(workers.numpy()), key(ref))
    plain = _rows(make_loader(ClimSimStream(pairs, V1, 100, seed=5)))
    cached = _rows(make_loader(ClimSimStream(pairs, V1, 100, seed=5, cache_dir=tmp_path)))
    again = _rows(make_loader(ClimSimStream(pairs, V1, 100, seed=5, cache_dir=tmp_path)))
    assert torch.equal(plain, cached) and torch.equal(cached, again)
    assert len(list(tmp_path.rglob("*.npy"))) == 2 * len(pairs)
    assert not list(tmp_path.rglob("*.tmp"))
