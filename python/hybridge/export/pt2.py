"""Write a prepared model as an AOTInductor package (``.pt2``) with its manifest.

``torch.export.export`` traces the eager module with one dynamic dimension, ``ncol`` (at
least 1 column), on the column axis of every batched input and state; unbatched inputs keep
their shapes. torch specializes sizes 0 and 1 by default; export and compilation run with
``backed_size_oblivious``, so that the program holds for any ``ncol >= 1``. Inductor may
still give the compiled input check a lower bound of 2 columns (it does for the U-Net's
convolutions), which would refuse a batch of one that the code computes correctly: the
package is compiled with ``aot_inductor.check_lowerbound`` off (the check of every other
shape, stride, dtype and device stays), and the check below runs a batch of one, with the
compiled input checks on as in the engine (``AOTI_RUNTIME_CHECK_INPUTS=1``).
``torch._inductor.aoti_compile_and_package`` compiles the program for this machine's CPU
(inductor's ``-march=native``) into a package; packages compiled before are reused through
:mod:`hybridge.export.pt2_cache` when ``HYBRIDGE_PT2_CACHE`` is set.

What the package carries besides the compiled model:

- the manifest, as the package's extra file ``extra/hybridge_manifest.json``, its checksum
  over every other record (:func:`hybridge.manifest.model_checksum`, the engine's digest);
- in the compiled model's metadata (``aot_inductor.metadata``, readable without loading the
  library): ``hybridge_torch_version``, the torch that compiled it;
  ``hybridge_cpu_flags``, the instruction-set extensions of the CPU it was compiled on; and
  ``hybridge_forward_arguments``, the forward's argument names (the engine checks the
  manifest's order against them). torch adds the device (``AOTI_DEVICE_KEY``) and the
  machine (``AOTI_MACHINE``). The engine refuses a package whose metadata does not match
  the machine, naming what differs.

The check at export: the package and the eager module run on the probe batch and on its
first column alone (a batch of one); the largest difference between them, in ulps of the
model's precision, is written into the manifest's provenance (``export_check``). Compiled
code fuses and reorders floating-point operations, so equality is not required; what is
refused is a difference beyond rounding. Rounding is judged against the eager module run in
float64 (a copy cast with ``.double()``, the inputs cast the same way): a value of the
package agrees when

    |package - exact| <= MARGIN * e + RTOL * (|exact| + rms)

``exact`` the float64 result, ``e`` the largest |eager - exact| of that output element over
the probe columns (the eager float32 model's own rounding error there: an output that is a
small difference of large terms, such as a conservation residual, may carry an error far
above its own size), ``rms`` the element's root mean square of ``exact`` over the probe
columns (both from the whole probe batch, also for the batch of one),
:data:`MARGIN` 8 and :data:`RTOL` 1e-4 (float32; 1e-9 for float64 models). Without a float64
run (a module that cannot be cast), ``exact`` is the eager result and ``e`` zero. Integer
outputs must be equal, NaN where the eager model has NaN.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ..manifest import (
    EXTRA_FILE,
    UNBATCHED,
    Manifest,
    ManifestError,
    TensorSpec,
    _umask,
    model_checksum,
    read_manifest,
)
from ..verify.compare import ulps, variable_at
from .checks import run_checked, split_outputs
from .prepare import Prepared
from .pt2_cache import compile_cached, program_key
from .torchscript import ExportError

#: relative tolerance of the export check, by dtype (see the module docstring)
RTOL = {"float32": 1e-4, "float64": 1e-9}
#: how many times the eager float32 model's own rounding error the package may be off
MARGIN = 8.0

MANIFEST_RECORD = "extra/" + EXTRA_FILE

# Instruction-set extensions a compiler may use under -march=native on x86-64 (names as in
# /proc/cpuinfo). A package compiled where one of them exists may execute it anywhere.
_ISA_FLAGS = frozenset(
    """sse sse2 ssse3 sse4_1 sse4_2 sse4a avx avx2 fma fma4 f16c bmi1 bmi2 abm lzcnt movbe popcnt
    adx aes pclmulqdq sha_ni rdrand rdseed xsave xsaveopt xsavec clflushopt clwb gfni vaes vpclmulqdq
    avx512f avx512dq avx512cd avx512bw avx512vl avx512ifma avx512vbmi avx512_vbmi2 avx512_vnni
    avx512_bitalg avx512_vpopcntdq avx512_bf16 avx512_fp16 avx_vnni avx_vnni_int8 avx_ifma
    amx_tile amx_bf16 amx_int8 amx_fp16 serialize movdiri movdir64b cldemote""".split()  # noqa: SIM905
)


def cpu_flags() -> str:
    """The instruction-set extensions of this CPU that a compiler may use, sorted and
    space-separated ("" where /proc/cpuinfo is not available)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return " ".join(sorted(set(line.split(":", 1)[1].split()) & _ISA_FLAGS))
    except OSError:
        pass
    return ""


@contextlib.contextmanager
def _any_column_count():
    # sizes 0/1 not specialized: the program and its compiled code hold for ncol = 1 too
    from torch.fx.experimental import _config as fx_config

    with fx_config.patch(backed_size_oblivious=True):
        yield


@contextlib.contextmanager
def _quiet():
    # torch.export and inductor warn about their own internals (pytree, deprecations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def _columns(t: torch.Tensor, spec: TensorSpec, n: int) -> torch.Tensor:
    """The first ``n`` columns of ``t`` (the first column repeated when it has fewer)."""
    if spec.batch_axis == UNBATCHED:
        return t
    have = t.shape[spec.batch_axis]
    if have >= n:
        return t.narrow(spec.batch_axis, 0, n).contiguous()
    first = t.narrow(spec.batch_axis, 0, 1)
    return torch.cat([t, *[first] * (n - have)], dim=spec.batch_axis).contiguous()


def exported_program(prepared: Prepared) -> torch.export.ExportedProgram:
    """``torch.export.export`` of the eager module, the column axis of every batched input
    and state one dynamic dimension ``ncol >= 1``."""
    m = prepared.manifest
    if isinstance(prepared.module, torch.jit.ScriptModule):
        raise ExportError(
            f"model '{m.name}' is a TorchScript module; the pt2 format exports the eager "
            "torch.nn.Module (torch.export cannot read TorchScript)"
        )
    specs = m.inputs + m.states
    # torch.export specializes a dimension its example gives as 0 or 1: trace 2 columns or more
    args = tuple(
        _columns(t, s, max(2, t.shape[s.batch_axis] if s.batch_axis >= 0 else 0))
        for t, s in zip(prepared.probe, specs, strict=True)
    )
    ncol = torch.export.Dim("ncol", min=1)
    dynamic = tuple({s.batch_axis: ncol} if s.batch_axis != UNBATCHED else None for s in specs)
    try:
        with _quiet(), _any_column_count():
            return torch.export.export(prepared.module, args, dynamic_shapes=dynamic, strict=False)
    except Exception as e:  # torch.export raises many kinds (user errors, unsupported code)
        raise ExportError(f"model '{m.name}' cannot be exported by torch.export: {_first_line(e)}") from None


def package_metadata(ep: torch.export.ExportedProgram) -> dict[str, str]:
    """What hybridge stores in the compiled model's metadata (see the module docstring)."""
    return {
        "hybridge_torch_version": torch.__version__,
        "hybridge_cpu_flags": cpu_flags(),
        "hybridge_forward_arguments": ",".join(ep.graph_signature.user_inputs),
    }


def compile_package(ep: torch.export.ExportedProgram, package: Path) -> bool:
    """Compile ``ep`` into a package at ``package`` (a path ending in .pt2) without a
    manifest; returns whether it came from the cache."""
    configs = {"aot_inductor.metadata": package_metadata(ep), "aot_inductor.check_lowerbound": False}

    def compile_into(path: Path) -> None:
        try:
            with _quiet(), _any_column_count():
                torch._inductor.aoti_compile_and_package(
                    ep, package_path=str(path), inductor_configs=dict(configs)
                )
        except Exception as e:  # the compiler's and inductor's failures
            raise ExportError(f"AOTInductor cannot compile the exported program: {_first_line(e)}") from None

    key = program_key(ep, {**configs, "backed_size_oblivious": True}, cpu_flags())
    return compile_cached(key, package, compile_into)


# Records PyTorchFileWriter writes itself when an archive is closed.
_WRITER_RECORDS = (".data/version", ".data/serialization_id")


def add_manifest(bare: Path, manifest_json: str, out: Path) -> None:
    """A copy of package ``bare`` with ``manifest_json`` as its extra file, at ``out``."""
    from torch.export.pt2_archive import PT2ArchiveWriter

    reader = torch._C.PyTorchFileReader(str(bare))
    with PT2ArchiveWriter(str(out)) as writer:
        for name in reader.get_all_records():
            if name not in _WRITER_RECORDS and name != MANIFEST_RECORD:
                writer.write_bytes(name, reader.get_record(name))
        writer.write_string(MANIFEST_RECORD, manifest_json)


def _host_layout(t: torch.Tensor, spec: TensorSpec) -> np.ndarray:
    if spec.batch_axis != UNBATCHED:
        t = t.movedim(spec.batch_axis, 0)
    return t.detach().contiguous().numpy()


@dataclasses.dataclass
class Agreement:
    """How far the package's results are from the eager module's: in ulps of the model's
    precision (which explode for values near zero, where an ulp is tiny), and as the largest
    share of the allowed difference that a value used (see the module docstring)."""

    max_ulps: int = 0
    where: str = ""  # the value with the most ulps, e.g. "'y' ptend_t[3], column 7 of 384 columns"
    used: float = 0.0  # largest |package - exact| / allowed difference; refused above 1
    failure: str = ""  # a value beyond rounding, or NaN against a number

    def text(self) -> str:
        """One line for the manifest's provenance and the export command's output."""
        if self.max_ulps == 0:
            return "bit for bit equal to the eager model"
        return (
            f"max {self.max_ulps} ulps from the eager model (at {self.where}); "
            f"at most {100 * self.used:.2g}% of the difference rounding allows"
        )


@dataclasses.dataclass
class Rounding:
    """Per output element, from the whole probe batch: the eager float32 model's largest error
    against its float64 run, and the root mean square of the float64 results."""

    eager_error: np.ndarray | float
    rms: np.ndarray | float


def rounding(spec: TensorSpec, eager: torch.Tensor, exact: torch.Tensor | None) -> Rounding:
    """The :class:`Rounding` of one output over the probe batch (``exact`` None: no float64 run)."""
    a = np.nan_to_num(_host_layout(eager, spec).astype(np.float64))
    x = a if exact is None else np.nan_to_num(_host_layout(exact, spec).astype(np.float64))
    if spec.batch_axis == UNBATCHED:
        return Rounding(np.abs(a - x), np.abs(x))
    return Rounding(np.abs(a - x).max(axis=0), np.sqrt(np.mean(np.square(x), axis=0)))


def _agree(
    agreement: Agreement,
    spec: TensorSpec,
    eager: torch.Tensor,
    package: torch.Tensor,
    label: str,
    exact: torch.Tensor | None = None,
    scale: Rounding | None = None,
) -> None:
    """Compare one output (or state) of the package with the eager module's: ``exact`` the
    eager module in float64 when it ran, ``scale`` the probe batch's :class:`Rounding` (this
    call's own when None); see the module docstring for the tolerance."""
    a, b = _host_layout(eager, spec), _host_layout(package, spec)
    if a.dtype.kind != "f":
        if not np.array_equal(a, b) and not agreement.failure:
            agreement.failure = f"'{spec.name}' ({label}): integer values differ"
        return
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(nan_a, nan_b):
        nan = f"'{spec.name}' ({label}): NaN where the eager model has a number, or the reverse"
        agreement.failure = agreement.failure or nan
        return
    a, b = np.where(nan_a, 0, a), np.where(nan_b, 0, b)
    x = a.astype(np.float64) if exact is None else np.nan_to_num(_host_layout(exact, spec).astype(np.float64))
    scale = scale or rounding(spec, eager, exact)
    bound = MARGIN * scale.eager_error + RTOL[spec.dtype] * (np.abs(x) + scale.rms)
    excess = np.abs(b - x) - bound
    layout = [(v.name, v.offset, v.size) for v in spec.layout] if len(spec.shape) == 1 else None
    per_column = int(np.prod(spec.shape)) if spec.shape else 1
    batched = spec.batch_axis != UNBATCHED

    def at(flat: int) -> str:
        column, index = divmod(flat, per_column) if batched else (0, flat)
        return f"'{spec.name}' {variable_at(index, layout, spec.name)}, column {column} of {label}"

    if (excess > 0).any() and not agreement.failure:
        i = int(np.argmax(excess))
        allowed = float(np.broadcast_to(bound, x.shape).flat[i])
        agreement.failure = (
            f"{at(i)}: package {float(b.flat[i])!r}, eager {float(a.flat[i])!r}, float64 eager "
            f"{float(x.flat[i])!r}: beyond rounding (allowed {allowed:.3g})"
        )
    u = ulps(a, b, spec.dtype)
    if u.size and int(u.max()) > agreement.max_ulps:
        agreement.max_ulps = int(u.max())
        agreement.where = at(int(np.argmax(u)))
    allowed = np.broadcast_to(bound, x.shape)
    used = np.divide(np.abs(b - x), allowed, out=np.zeros(x.shape), where=allowed > 0)
    if used.size:
        agreement.used = max(agreement.used, float(used.max()))


def _in_float64(module: torch.nn.Module, args: list[torch.Tensor]):
    """The module's results in float64 (a cast copy), or None when it cannot run that way."""
    try:
        double = copy.deepcopy(module).double()
        with torch.no_grad():
            return double(*[t.double() if t.is_floating_point() else t for t in args])
    except Exception:  # a module that fixes its own dtypes: the check goes without
        return None


def check_package(package: Path, prepared: Prepared) -> Agreement:
    """The package against the eager module on the probe batch and on its first column alone."""
    m = prepared.manifest
    specs = m.inputs + m.states
    # what the engine does (aoti_backend.cpp): the compiled model checks its inputs; a
    # caller's own setting wins
    os.environ.setdefault("AOTI_RUNTIME_CHECK_INPUTS", "1")
    with _quiet():
        compiled = torch._inductor.aoti_load_package(str(package))
    agreement = Agreement()
    ncol = next(
        (t.shape[s.batch_axis] for t, s in zip(prepared.probe, specs, strict=True) if s.batch_axis >= 0), 1
    )
    scales: list[Rounding] = []  # from the whole probe batch, which runs first
    for n in sorted({ncol, 1}, reverse=True):
        args = [_columns(t, s, n) for t, s in zip(prepared.probe, specs, strict=True)]
        label = f"{n} column{'s' if n > 1 else ''}"
        eager = run_checked(prepared.module, m, args, f"model '{m.name}'")
        exact = _in_float64(prepared.module, args)
        exact = None if exact is None else split_outputs(m, exact, f"model '{m.name}' in float64")
        with torch.no_grad():
            try:
                result = compiled(*args)
            except Exception as e:  # the compiled model's runtime error
                raise ExportError(
                    f"model '{m.name}': the compiled package fails on {label}: {_first_line(e)}"
                ) from None
        outs = split_outputs(m, result, f"package of model '{m.name}'")
        for i, (spec, a, b) in enumerate(zip(m.outputs + m.states, eager, outs, strict=True)):
            if list(a.shape) != list(b.shape) or a.dtype != b.dtype:
                raise ExportError(
                    f"model '{m.name}': the package returns '{spec.name}' as {b.dtype} {list(b.shape)}, "
                    f"the eager model {a.dtype} {list(a.shape)} ({label})"
                )
            x = None if exact is None else exact[i]
            if len(scales) <= i:
                scales.append(rounding(spec, a, x))
            _agree(agreement, spec, a, b, label, x, scales[i])
    return agreement


def write_pt2(prepared: Prepared, path) -> Manifest:
    """Write ``prepared`` as an AOTInductor package at ``path`` (any file name: the engine
    reads the format from the content); returns the manifest written. Raises
    :class:`~hybridge.export.torchscript.ExportError` when the model cannot be exported or
    compiled, or when the package's results are beyond the tolerance of the eager model's."""
    path = Path(path)
    m = prepared.manifest
    ep = exported_program(prepared)
    # the package's archive is named after its file: the final one is <stem>.pt2 in a scratch
    # folder beside the target, moved into place when complete
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=".hybridge-export-"))
    try:
        bare, final = scratch / "compiled.pt2", scratch / f"{path.stem or 'model'}.pt2"
        compile_package(ep, bare)
        agreement = check_package(bare, prepared)
        if agreement.failure:
            raise ExportError(
                f"model '{m.name}': the compiled package differs from the eager model: "
                f"{agreement.failure}; not written"
            )
        provenance = {
            **m.provenance,
            "format": "pt2",
            "torch": torch.__version__,
            "export_check": agreement.text(),
        }
        manifest = dataclasses.replace(m, provenance=provenance, checksum=model_checksum(bare))
        manifest.validate()
        add_manifest(bare, manifest.to_json(), final)
        if model_checksum(final) != manifest.checksum:
            raise ManifestError(
                f"{path}: the package's records changed when the manifest was added; not written"
            )
        os.chmod(final, 0o666 & ~_umask())
        os.replace(final, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return read_manifest(path)


__all__ = [
    "MARGIN",
    "RTOL",
    "Agreement",
    "Rounding",
    "add_manifest",
    "check_package",
    "compile_package",
    "cpu_flags",
    "exported_program",
    "package_metadata",
    "rounding",
    "write_pt2",
]
