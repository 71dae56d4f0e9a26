"""``SeededDataset``: make every sample's augmentation a pure function of its key.

Augmentation code (torchvision transforms, MMDetection pipelines, most hand
written ones) draws from the *global* generators of ``random``, ``numpy`` and
``torch``. Which worker runs it, and what that worker ran before, then decides
the result. Seeding those generators from the sample's key right before the
sample is loaded removes both influences.

In the main process (``num_workers=0``) the same generators also drive
dropout and initialisation; the caller's states are saved before and restored
after, so the model sees the same streams whatever ``num_workers`` is. In a
worker nothing else uses them, so that cost is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from torch.utils.data import Dataset

from ..sources import RandomSource, get_source
from . import rng as _rng
from ._globals import GlobalSnapshotter, salt
from .keys import SampleKey, mix64

__all__ = ["SeededDataset"]

DEFAULT_SOURCES = ("python", "numpy", "torch")


def _check_sources(sources: Any) -> tuple[str, ...]:
    if isinstance(sources, (str, bytes)) or not isinstance(sources, Iterable):
        raise TypeError(
            f"sources must be a tuple of source names such as {DEFAULT_SOURCES}, "
            f"got {type(sources).__name__} {sources!r}"
        )
    names = tuple(sources)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"sources must contain source names (str), got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"sources lists a name twice: {names!r}")
    for name in names:
        try:
            source = get_source(name)
        except KeyError as exc:
            raise ValueError(f"SeededDataset: {exc.args[0]}") from None
        if not source.available():
            raise ValueError(
                f"SeededDataset: source {name!r} is registered but not available in this process "
                "(library missing or no device); leave it out of sources="
            )
    return names


def _key_error(key: Any) -> TypeError:
    return TypeError(
        f"SeededDataset got the key {key!r} of type {type(key).__name__}, which carries no per-sample "
        "seed. Sample it with reprotorch.data.SeededSampler (or use SeededDataLoader): a plain index "
        "would give the sample the same augmentation every epoch."
    )


class SeededDataset(Dataset[Any]):
    """Wraps a map-style dataset so that ``dataset[key]`` is a pure function of ``key`` (a :class:`SampleKey`).

    ``sources`` names the global generators seeded per sample (any registered
    source, plugins included); sources not named are not touched at all. Other
    attributes are read through to the wrapped dataset, so code that inspects
    ``dataset.CLASSES`` or ``dataset.flag`` keeps working.
    """

    def __init__(self, dataset: Any, *, sources: Sequence[str] = DEFAULT_SOURCES) -> None:
        if not callable(getattr(dataset, "__getitem__", None)) or not callable(getattr(dataset, "__len__", None)):
            raise TypeError(
                "SeededDataset wraps a map-style dataset (with __getitem__ and __len__), got "
                f"{type(dataset).__name__}; iterable-style datasets have no index to key samples by"
            )
        self.dataset = dataset
        self.sources = _check_sources(sources)
        self._resolve()

    def _resolve(self) -> None:
        resolved: list[RandomSource] = [get_source(n) for n in self.sources]
        self._seeders = [(s.seed, salt("source." + s.name)) for s in resolved]
        self._snapshotter = GlobalSnapshotter(resolved)

    # Pickling (spawned workers): ship the names, look the sources up again over there.
    def __getstate__(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "sources": self.sources}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.dataset = state["dataset"]
        self.sources = state["sources"]
        self._resolve()

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found normally; guard against recursion while unpickling.
        if name.startswith("__") or name in ("dataset", "sources", "_seeders", "_snapshotter"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def _load(self, key: SampleKey) -> Any:
        seed = key.seed
        for seed_fn, s in self._seeders:
            seed_fn(mix64(seed ^ s))
        frame = _rng.push(seed)
        try:
            return self.dataset[key]
        finally:
            _rng.pop(frame)

    def __getitem__(self, key: SampleKey) -> Any:
        if not isinstance(key, SampleKey):
            raise _key_error(key)
        from torch.utils.data import get_worker_info

        if get_worker_info() is not None:
            return self._load(key)
        snapshot = self._snapshotter.save()
        try:
            return self._load(key)
        finally:
            self._snapshotter.restore(snapshot)

    def __getitems__(self, keys: Sequence[SampleKey]) -> list[Any]:
        """Load a batch (the DataLoader calls this when it exists).

        Every sample is still seeded from its own key; only the save/restore of
        the caller's generators in the main process is done once per batch
        instead of once per sample.
        """
        for key in keys:
            if not isinstance(key, SampleKey):
                raise _key_error(key)
        from torch.utils.data import get_worker_info

        if get_worker_info() is not None:
            return [self._load(k) for k in keys]
        snapshot = self._snapshotter.save()
        try:
            return [self._load(k) for k in keys]
        finally:
            self._snapshotter.restore(snapshot)

    def __repr__(self) -> str:
        return f"SeededDataset({self.dataset!r}, sources={self.sources!r})"
