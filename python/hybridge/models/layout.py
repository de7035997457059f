"""Column layout for models that work level by level (U-Net, LSTM).

Splits a flat x ``(ncol, n_in)`` into profiles ``(ncol, n_profile_in, nlev)`` and scalars
``(ncol, n_scalar_in)``, and assembles ``(ncol, n_out)`` back from profile and scalar heads,
in the variable set's order, with fixed index tensors (scriptable, no Python loops at run time).
"""

from __future__ import annotations

import torch


class ColumnLayout(torch.nn.Module):
    """Index tensors that split x into profiles and scalars and join the heads' outputs;
    ``nlev`` is the profiles' size in the variable set (every profile must have it)."""

    def __init__(self, inputs, outputs):
        super().__init__()
        sizes = sorted({int(s) for _, s in list(inputs) + list(outputs) if int(s) > 1})
        if len(sizes) > 1:
            raise ValueError(f"level-wise models need one profile size, the variable set has {sizes}")
        if not sizes:
            raise ValueError("level-wise models need at least one profile (size > 1) in the variable set")
        nlev = sizes[0]
        self.nlev = nlev
        in_prof, in_scal = self._split(inputs, nlev)
        out_prof, out_scal = self._split(outputs, nlev)
        self.n_prof_in, self.n_scal_in = len(in_prof) // nlev, len(in_scal)
        self.n_prof_out, self.n_scal_out = len(out_prof) // nlev, len(out_scal)
        self.register_buffer("in_prof", torch.tensor(in_prof, dtype=torch.long), persistent=False)
        self.register_buffer("in_scal", torch.tensor(in_scal, dtype=torch.long), persistent=False)
        # position in [profiles..., scalars...] of each output feature, in output order
        order = out_prof + out_scal
        inverse = [0] * len(order)
        for pos, idx in enumerate(order):
            inverse[idx] = pos
        self.register_buffer("out_perm", torch.tensor(inverse, dtype=torch.long), persistent=False)

    @staticmethod
    def _split(pairs, nlev):
        prof, scal, off = [], [], 0
        for _, size in pairs:
            size = int(size)
            if size == nlev:
                prof.extend(range(off, off + size))
            elif size == 1:
                scal.append(off)
            off += size
        return prof, scal

    def split(self, x: torch.Tensor):
        prof = x.index_select(1, self.in_prof).view(x.shape[0], self.n_prof_in, self.nlev)
        return prof, x.index_select(1, self.in_scal)

    def with_scalars_per_level(self, x: torch.Tensor) -> torch.Tensor:
        """``(ncol, n_prof_in + n_scal_in, nlev)``: scalars repeated on every level."""
        prof, scal = self.split(x)
        return torch.cat([prof, scal.unsqueeze(2).expand(-1, -1, self.nlev)], 1)

    def join(self, prof: torch.Tensor, scal: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([prof.reshape(prof.shape[0], -1), scal], 1)
        return flat.index_select(1, self.out_perm)
