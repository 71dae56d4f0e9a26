"""reprotorch's interpreter bootstrap, run at the start of every Python process under ``reprotorch run``.

``reprotorch run`` puts this file's directory first on ``PYTHONPATH``; Python's
``site`` module then imports it as ``sitecustomize`` before the program's first
line, in the command's own process and in every Python process it starts
(torchrun ranks, DataLoader workers started with ``spawn``). What it does is
driven by ``REPROTORCH_BOOT_*`` environment variables set by ``reprotorch run``:

* ``REPROTORCH_BOOT_SEED=N``: give every generator the seed ``seed_everything(N)``
  would give it. Python's ``random``, NumPy's global generator and torch are
  seeded *when they are first imported* (a ``sys.meta_path`` post-import hook),
  not now: importing torch costs a second or more, and a process that never
  imports NumPy or torch must not get them from us. Nothing can draw from a
  generator before its module exists, so seeding at import gives the same
  numbers as seeding at start-up.
* ``REPROTORCH_BOOT_DETERMINISTIC=1|warn``: ``set_deterministic`` once torch is imported.
* ``REPROTORCH_BOOT_THREADS=K``: ``torch.set_num_threads(K)`` once torch is imported.
* ``REPROTORCH_BOOT_TRACE=PATH``: install a ``reprotorch.Tracer`` once torch is
  imported -- only in processes that run the model (the command's process, each
  torchrun rank), never in ``multiprocessing`` children such as DataLoader workers.
* ``REPROTORCH_BOOT_REPORT=DIR``: at exit, write this process's manifest (the
  determinism flags as the program left them) to ``DIR`` for ``reprotorch run``
  to merge.

The file is self-contained on purpose: importing the ``reprotorch`` package
would cost tens of milliseconds in every process, so the seed derivation that
must happen before NumPy is loaded (``SeedSequence``) is reimplemented here in
pure Python and tested bit for bit against NumPy. ``reprotorch`` itself is
imported only once torch has been, when its cost no longer shows.

The bootstrap leaves ``sys.argv``, ``__main__``, ``sys.path`` and the exit status
as they would be without it, and then runs any ``sitecustomize`` module that
its directory shadowed, so site-wide customisation keeps working.
"""

from __future__ import annotations

import os
import sys

# typing alone costs ~10 ms at start-up (it imports re); annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SEED_VAR = "REPROTORCH_BOOT_SEED"
DETERMINISTIC_VAR = "REPROTORCH_BOOT_DETERMINISTIC"
THREADS_VAR = "REPROTORCH_BOOT_THREADS"
TRACE_VAR = "REPROTORCH_BOOT_TRACE"
REPORT_VAR = "REPROTORCH_BOOT_REPORT"
PKG_VAR = "REPROTORCH_BOOT_PKG"

MODULE_NAME = "_reprotorch_boot"  # where this module stays reachable after it hands back "sitecustomize"

_MASK32 = 0xFFFFFFFF
_MAX_SEED = 2**32 - 1

# --------------------------------------------------------------------------- seed derivation
# numpy.random.SeedSequence's hash, as documented with NumPy's bit generators:
# entropy words are hashed into a pool of four 32-bit words, every pool word is
# mixed into every other, and output words are drawn by a second hash over the pool.
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = 16


def uint32_words(value: int) -> list[int]:
    """``value`` as little-endian 32-bit words (``0`` is ``[0]``), as NumPy splits big integers."""
    words = []
    while True:
        words.append(value & _MASK32)
        value >>= 32
        if not value:
            return words


def seed_sequence_state(entropy: int, spawn_key: list[int], n_words: int) -> list[int]:
    """``SeedSequence(entropy, spawn_key=spawn_key).generate_state(n_words, uint32)`` in pure Python."""
    run_entropy = uint32_words(entropy)
    if spawn_key and len(run_entropy) < _POOL_SIZE:
        # NumPy pads the entropy to the pool size when a spawn key follows, so
        # that a short entropy and a spawn key cannot meet another entropy.
        run_entropy += [0] * (_POOL_SIZE - len(run_entropy))
    assembled = run_entropy + list(spawn_key)

    hash_const = _INIT_A

    def hashmix(value: int) -> int:
        nonlocal hash_const
        value = (value ^ hash_const) & _MASK32
        hash_const = (hash_const * _MULT_A) & _MASK32
        value = (value * hash_const) & _MASK32
        return value ^ (value >> _XSHIFT)

    def mix(x: int, y: int) -> int:
        result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
        return result ^ (result >> _XSHIFT)

    pool = [hashmix(assembled[i] if i < len(assembled) else 0) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL_SIZE, len(assembled)):
        for dst in range(_POOL_SIZE):
            pool[dst] = mix(pool[dst], hashmix(assembled[src]))

    out = []
    hash_b = _INIT_B
    for i in range(n_words):
        value = pool[i % _POOL_SIZE] ^ hash_b
        hash_b = (hash_b * _MULT_B) & _MASK32
        value = (value * hash_b) & _MASK32
        out.append(value ^ (value >> _XSHIFT))
    return out


def _key_words(key: int | str) -> list[int]:
    # Same encoding as reprotorch.seeding: a type tag and 64 bits of value per key.
    if isinstance(key, str):
        try:  # the C module behind hashlib.blake2b, without importing all of hashlib
            from _blake2 import blake2b
        except ImportError:  # pragma: no cover - other Python implementations
            from hashlib import blake2b

        value = int.from_bytes(
            blake2b(key.encode("utf-8"), digest_size=8, person=b"reprotorch-key").digest(), "little"
        )
        return [1, value & _MASK32, value >> 32]
    return [0, key & _MASK32, key >> 32]


def derive_seed(seed: int, *keys: int | str, bits: int = 64) -> int:
    """``reprotorch.derive_seed`` without NumPy (the same value, bit for bit)."""
    words: list[int] = []
    for key in keys:
        words.extend(_key_words(key))
    out = 0
    for i, w in enumerate(seed_sequence_state(seed, words, bits // 32)):
        out |= w << (32 * i)
    return out


# --------------------------------------------------------------------------- post-import hooks


class _HookedLoader:
    """Wraps a module's loader to call ``callback(module)`` right after the module has executed."""

    def __init__(self, loader: Any, callback: Callable[[Any], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        # Hand the real loader back before the module runs, so that nothing the
        # module (or anyone later) reads from __loader__ / __spec__ shows us.
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._callback(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class PostImportHooks:
    """A ``sys.meta_path`` finder that runs a callback once a watched module has been imported.

    It finds nothing itself: it asks the finders after it for the spec and wraps
    the loader. A callback is consumed when its module *executes*, not when it is
    found, because libraries probe with ``importlib.util.find_spec("torch")``
    without importing. Each callback runs at most once; the finder removes
    itself when none is left.
    """

    def __init__(self) -> None:
        self._callbacks: dict[str, Callable[[Any], None]] = {}

    def watch(self, name: str, callback: Callable[[Any], None]) -> None:
        module = sys.modules.get(name)
        if module is not None:
            _guarded(name, callback, module)
            return
        self._callbacks[name] = callback
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def _imported(self, name: str, module: Any) -> None:
        callback = self._callbacks.pop(name, None)
        if not self._callbacks:
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
        if callback is not None:
            _guarded(name, callback, module)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._callbacks:
            return None
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookedLoader(spec.loader, lambda m: self._imported(fullname, m))
        return spec


def _guarded(name: str, callback: Callable[[Any], None], module: Any) -> None:
    try:
        callback(module)
    except Exception as exc:  # never break the program's import; say what was not applied
        _warn(f"could not apply its settings after importing {name}: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- the process


def _warn(message: str) -> None:
    try:
        sys.stderr.write(f"reprotorch run (pid {os.getpid()}): {message}\n")
        sys.stderr.flush()
    except Exception:
        pass


def is_multiprocessing_child(argv: list[str]) -> bool:
    """Whether this interpreter was started by ``multiprocessing`` (spawn/forkserver worker or helper).

    ``spawn`` children get ``--multiprocessing-fork`` on their command line; the
    forkserver and the resource tracker are started as ``-c "from multiprocessing.…"``.
    """
    if "--multiprocessing-fork" in argv:
        return True
    return any(arg.startswith("from multiprocessing.") for arg in argv)


class Config:
    """The settings ``reprotorch run`` passed through the environment."""

    def __init__(self, environ: Any) -> None:
        self.seed = _parse_int(environ.get(SEED_VAR), SEED_VAR, _MAX_SEED)
        det = environ.get(DETERMINISTIC_VAR) or None
        if det not in (None, "1", "warn"):
            _warn(f"ignoring {DETERMINISTIC_VAR}={det!r} (expected '1' or 'warn')")
            det = None
        self.deterministic: bool | str = "warn" if det == "warn" else det == "1"
        self.threads = _parse_int(environ.get(THREADS_VAR), THREADS_VAR, 4096)
        if self.threads == 0:
            self.threads = None
        self.trace = environ.get(TRACE_VAR) or None
        self.report_dir = environ.get(REPORT_VAR) or None
        self.pkg_dir = environ.get(PKG_VAR) or None

    @property
    def active(self) -> bool:
        return bool(
            self.seed is not None or self.deterministic or self.threads or self.trace or self.report_dir
        )


def _parse_int(raw: str | None, name: str, maximum: int) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > maximum:
        _warn(f"ignoring {name}={raw!r} (expected an integer in [0, {maximum}])")
        return None
    return int(raw)


class Boot:
    """What the bootstrap did in this process (kept for the torch hook, the exit report and tests)."""

    def __init__(self, config: Config, argv: list[str]) -> None:
        self.config = config
        self.pid = os.getpid()
        self.worker = is_multiprocessing_child(argv)
        self.rank = os.environ.get("RANK")
        if self.worker:
            self.role = "worker"
        elif self.rank is not None:
            self.role = "rank"
        else:
            self.role = "main"
        self.tracer: Any = None
        self.seeded: list[str] = []
        self.hooks = PostImportHooks()

    # -- callbacks, each run once when its module has been imported
    def seed_python(self, module: Any) -> None:
        assert self.config.seed is not None
        module.seed(derive_seed(self.config.seed, "source", "python", bits=64))
        self.seeded.append("python")

    def seed_numpy(self, module: Any) -> None:
        # As reprotorch.sources.NumpyGlobalSource.seed: all 64 bits through init_by_array.
        assert self.config.seed is not None
        value = derive_seed(self.config.seed, "source", "numpy", bits=64)
        module.seed(value if value <= _MASK32 else uint32_words(value))
        self.seeded.append("numpy")

    def on_torch(self, module: Any) -> None:
        hooks = _import_reprotorch_hooks(self.config.pkg_dir)
        hooks.on_torch_imported(self)

    def exit_report(self) -> None:
        if os.getpid() != self.pid or self.config.report_dir is None:
            return  # a forked child inherits atexit handlers; only the process itself reports
        try:
            if "torch" in sys.modules:
                hooks = _import_reprotorch_hooks(self.config.pkg_dir)
                hooks.write_exit_report(self)
            else:
                write_minimal_report(self)
        except Exception as exc:
            _warn(f"could not write its exit report: {type(exc).__name__}: {exc}")

    def start(self) -> None:
        cfg = self.config
        if cfg.seed is not None:
            self.hooks.watch("random", self.seed_python)
            self.hooks.watch("numpy.random", self.seed_numpy)
        if cfg.seed is not None or cfg.deterministic or cfg.threads or (cfg.trace and not self.worker):
            self.hooks.watch("torch", self.on_torch)
        if cfg.report_dir and not self.worker:
            import atexit

            atexit.register(self.exit_report)


def report_info(boot: Boot) -> dict[str, Any]:
    """The part of the exit report that needs no import."""
    env = os.environ
    return {
        "pid": boot.pid,
        "ppid": os.getppid(),
        "role": boot.role,
        "rank": _int_or_none(env.get("RANK")),
        "local_rank": _int_or_none(env.get("LOCAL_RANK")),
        "world_size": _int_or_none(env.get("WORLD_SIZE")),
        "argv": list(sys.orig_argv),
        "seeded": list(boot.seeded),
        "torch_imported": "torch" in sys.modules,
        "numpy_imported": "numpy" in sys.modules,
        "traced": boot.tracer is not None,
    }


def report_path(boot: Boot) -> str:
    assert boot.config.report_dir is not None
    rank = report_info(boot)["rank"]
    tag = boot.role if rank is None else f"rank{rank}"
    return os.path.join(boot.config.report_dir, f"{tag}-{boot.pid}.json")


def write_minimal_report(boot: Boot) -> None:
    """The exit report of a process that never imported torch (so nothing of ours is imported either)."""
    import json

    path = report_path(boot)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"process": report_info(boot), "manifest": None}, handle)
    os.replace(tmp, path)


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


def _import_reprotorch_hooks(pkg_dir: str | None) -> Any:
    try:
        import reprotorch.launch.hooks as hooks
    except ImportError:
        # The command runs another interpreter than reprotorch's (a different
        # venv): fall back to the copy reprotorch run itself was started from.
        if not pkg_dir or pkg_dir in sys.path:
            raise
        sys.path.append(pkg_dir)
        import reprotorch.launch.hooks as hooks
    return hooks


def _chain_shadowed_sitecustomize(here: str) -> None:
    """Import the ``sitecustomize`` our directory hid, under its own name, as ``site`` would have."""
    from importlib.machinery import PathFinder

    if PathFinder.find_spec("sitecustomize", sys.path) is None:
        return
    me = sys.modules.pop("sitecustomize", None)
    try:
        __import__("sitecustomize")
    except BaseException:
        # site reports it as "Error in sitecustomize", as it would without us.
        if me is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = me
        raise


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    # Leave sys.path as the program would see it without us; children still
    # inherit PYTHONPATH, so they boot too.
    sys.path[:] = [p for p in sys.path if not p or os.path.abspath(p) != here]
    config = Config(os.environ)
    if config.active:
        boot = Boot(config, list(getattr(sys, "orig_argv", sys.argv)))
        sys.modules[MODULE_NAME] = sys.modules[__name__]
        globals()["BOOT"] = boot
        boot.start()
    _chain_shadowed_sitecustomize(here)


BOOT: Boot | None = None

if __name__ == "sitecustomize":
    main()
