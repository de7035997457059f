"""Streaming ``torch.utils.data`` pipeline over ClimSim file pairs, never the whole dataset.

Files are dealt out to (DDP rank, DataLoader worker) round-robin; each worker keeps a
shuffle buffer of a few files and yields ready-made minibatches, so the DataLoader runs
with ``batch_size=None``. An optional cache stores each pair as ``.npy`` (float32 x and y,
memory-mapped on read), written once under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .files import DT_CLIMSIM, FilePair, read_pair
from .variables import VariableSet


class PairCache:
    """``<cache_dir>/<key>/<stamp>.x.npy`` and ``.y.npy``; key = variable set + dt + file path."""

    def __init__(self, cache_dir, varset: VariableSet, dt: float):
        self.root = Path(cache_dir)
        self.varset, self.dt = varset, dt
        spec = repr((varset.to_dict(), dt)).encode()
        self.key = hashlib.sha1(spec).hexdigest()[:12]

    def _paths(self, pair: FilePair):
        tag = hashlib.sha1(str(pair.mli.resolve()).encode()).hexdigest()[:8]
        base = self.root / self.key / f"{pair.stamp}-{tag}"
        return base.with_suffix(".x.npy"), base.with_suffix(".y.npy")

    def load(self, pair: FilePair):
        px, py = self._paths(pair)
        if not (px.exists() and py.exists()):
            x, y = read_pair(pair, self.varset, self.dt)
            px.parent.mkdir(parents=True, exist_ok=True)
            for path, a in ((px, x), (py, y)):
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as f:
                    np.save(f, a)
                os.replace(tmp, path)
        return np.load(px, mmap_mode="r"), np.load(py, mmap_mode="r")


class ClimSimStream(IterableDataset):
    """Yields ``(x, y)`` float32 minibatches in physical units from a list of file pairs."""

    def __init__(
        self,
        pairs: list[FilePair],
        varset: VariableSet,
        batch_size: int,
        dt: float = DT_CLIMSIM,
        shuffle: bool = True,
        seed: int = 0,
        shuffle_files: int = 4,
        cache_dir=None,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ):
        self.pairs, self.varset, self.batch_size, self.dt = list(pairs), varset, batch_size, dt
        self.shuffle, self.seed, self.shuffle_files = shuffle, seed, max(1, shuffle_files)
        self.cache = PairCache(cache_dir, varset, dt) if cache_dir else None
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _my_pairs(self) -> list[FilePair]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        order = list(range(len(self.pairs)))
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(order).tolist()
        shard, nshard = self.rank * nw + wid, self.world_size * nw
        return [self.pairs[i] for i in order[shard::nshard]]

    def _read(self, pair):
        if self.cache is not None:
            x, y = self.cache.load(pair)
            return np.asarray(x), np.asarray(y)
        x, y = read_pair(pair, self.varset, self.dt)
        return x, y

    def __iter__(self):
        info = get_worker_info()
        rng = np.random.default_rng((self.seed, self.epoch, self.rank, info.id if info else 0))
        pending_x, pending_y = [], []
        for pair in self._my_pairs():
            x, y = self._read(pair)
            pending_x.append(x)
            pending_y.append(y)
            if len(pending_x) >= self.shuffle_files:
                yield from self._emit(pending_x, pending_y, rng, final=False)
        yield from self._emit(pending_x, pending_y, rng, final=True)

    def _emit(self, xs, ys, rng, final: bool):
        if not xs:
            return
        x, y = np.concatenate(xs), np.concatenate(ys)
        xs.clear()
        ys.clear()
        if self.shuffle:
            perm = rng.permutation(x.shape[0])
            x, y = x[perm], y[perm]
        n = x.shape[0]
        full = n - n % self.batch_size
        for s in range(0, full, self.batch_size):
            yield torch.from_numpy(x[s : s + self.batch_size]), torch.from_numpy(y[s : s + self.batch_size])
        if full < n:
            if final and not self.drop_last:
                yield torch.from_numpy(x[full:]), torch.from_numpy(y[full:])
            elif not final:  # carry the remainder into the next shuffle buffer
                xs.append(x[full:])
                ys.append(y[full:])


def make_loader(stream: ClimSimStream, num_workers: int = 0) -> DataLoader:
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=False,
        prefetch_factor=2 if num_workers else None,
    )
