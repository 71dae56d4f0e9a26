"""The names the rules recognise: listing functions, clock sources, seed sinks, nondeterministic ops.

Plain data, separate from the analysis, so a reviewer can check the lists
against the PyTorch/NumPy documentation without reading the data-flow code.
All names are fully qualified (see ``names.Aliases.qualname``).
"""

from __future__ import annotations

import re

__all__ = [
    "LISTING_FUNCS",
    "LISTING_METHODS",
    "TRANSPARENT_FUNCS",
    "SAFE_FUNCS",
    "SAFE_QUALNAMES",
    "LOG_METHODS",
    "ORDERED_CONSUMERS",
    "NEUTRAL_LOOP_CALLS",
    "TORCH_RANDOM_FUNCS",
    "UNSEEDED_CTORS",
    "SEED_KEYWORDS",
    "SEED_HOLDER",
    "TIMING_WORD",
    "TORCH_GENERATORS",
    "CLOCK_SOURCES",
    "ENTROPY_RESEEDS",
    "SEED_SINK_QUALNAMES",
    "SEED_SINK_SUFFIXES",
    "GLOBAL_SEED_QUALNAMES",
    "GLOBAL_SEED_SUFFIXES",
    "DATALOADERS",
    "DATALOADER_POSITIONS",
    "MODEL_TARGET",
    "PARAMETRIC_LAYER",
    "NOT_CREATION",
    "CUDA_LAZY_OK",
    "WORKER_NAME",
    "SEED_NAME",
    "INT_HINT",
    "NONDET_FUNCS",
    "NONDET_METHODS",
    "NONDET_MODES",
]

# --- RPT001 / RPT002: order flow ---------------------------------------------------------

#: Functions returning directory entries in filesystem order -> how the message names them.
LISTING_FUNCS: dict[str, str] = {
    "os.listdir": "os.listdir()",
    "os.scandir": "os.scandir()",
    "glob.glob": "glob.glob()",
    "glob.iglob": "glob.iglob()",
    "glob.glob.glob": "glob()",  # `from glob import glob` then `glob.glob` is never right, harmless
}
#: Path-like methods with the same behaviour (``Path.iterdir``, ``Path.glob``, ``Path.rglob``).
LISTING_METHODS: frozenset[str] = frozenset({"iterdir", "glob", "rglob"})

#: Calls whose result keeps the (arbitrary) order of their iterable argument.
TRANSPARENT_FUNCS: frozenset[str] = frozenset(
    {"list", "tuple", "iter", "map", "filter", "itertools.chain", "itertools.islice",
     "copy.copy", "copy.deepcopy", "reversed"}
)
#: Builtins that consume an iterable without depending on its order (or only print it).
SAFE_FUNCS: frozenset[str] = frozenset(
    {"sorted", "len", "min", "max", "sum", "any", "all", "bool", "print", "isinstance",
     "str", "repr", "format", "id", "type", "abs", "hasattr", "getattr", "callable"}
)
SAFE_QUALNAMES: frozenset[str] = frozenset(
    {"numpy.unique", "numpy.sort", "torch.unique", "torch.sort", "collections.Counter",
     "warnings.warn", "math.fsum", "statistics.mean", "heapq.nsmallest", "heapq.nlargest",
     "os.path.exists", "os.path.join"}
)
LOG_METHODS: frozenset[str] = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print",
     "write_line", "set_description", "set_postfix"}
)
#: Callees that turn even a raw set into an ordered object.
ORDERED_CONSUMERS: frozenset[str] = frozenset(
    {"dict.fromkeys", "collections.OrderedDict", "collections.OrderedDict.fromkeys",
     "numpy.array", "numpy.asarray", "torch.tensor", "torch.as_tensor", "torch.LongTensor",
     "random.choice", "random.sample", "random.shuffle", "numpy.random.choice",
     "numpy.random.permutation"}
)
#: Calls a loop body may make without its result depending on the iteration order.
NEUTRAL_LOOP_CALLS: frozenset[str] = frozenset(
    {"print", "warnings.warn", "os.remove", "os.unlink", "os.rmdir", "os.makedirs", "os.mkdir",
     "shutil.rmtree", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.move",
     "os.symlink", "os.chmod", "os.rename", "os.replace",
     # one output file per element: the set of files written does not depend on the order
     "numpy.save", "numpy.savez", "numpy.savez_compressed", "torch.save", "cv2.imwrite",
     "imageio.imwrite", "soundfile.write", "torchaudio.save", "torchvision.utils.save_image"}
)
#: torch functions drawing from the global generator.
TORCH_RANDOM_FUNCS: frozenset[str] = frozenset(
    {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
     "normal", "bernoulli", "multinomial", "poisson"}
)

# --- RPT004: generators without a seed ---------------------------------------------------

#: Constructors -> the keyword that carries their seed.
UNSEEDED_CTORS: dict[str, str] = {
    "numpy.random.default_rng": "seed",
    "numpy.random.RandomState": "seed",
    "numpy.random.mtrand.RandomState": "seed",
    "numpy.random.SeedSequence": "entropy",
    "numpy.random.PCG64": "seed",
    "numpy.random.PCG64DXSM": "seed",
    "numpy.random.Philox": "seed",
    "numpy.random.MT19937": "seed",
    "numpy.random.SFC64": "seed",
    "random.Random": "x",
}
TORCH_GENERATORS: frozenset[str] = frozenset({"torch.Generator", "torch._C.Generator"})

# --- RPT005: seeds that differ on every run -----------------------------------------------

CLOCK_SOURCES: dict[str, str] = {
    "time.time": "time.time()",
    "time.time_ns": "time.time_ns()",
    "time.perf_counter": "time.perf_counter()",
    "time.perf_counter_ns": "time.perf_counter_ns()",
    "time.monotonic": "time.monotonic()",
    "time.monotonic_ns": "time.monotonic_ns()",
    "time.process_time": "time.process_time()",
    "datetime.datetime.now": "datetime.now()",
    "datetime.datetime.utcnow": "datetime.utcnow()",
    "datetime.datetime.today": "datetime.today()",
    "datetime.date.today": "date.today()",
    "os.getpid": "os.getpid()",
    "os.getppid": "os.getppid()",
    "os.urandom": "os.urandom()",
    "uuid.uuid1": "uuid.uuid1()",
    "uuid.uuid4": "uuid.uuid4()",
    "secrets.randbits": "secrets.randbits()",
    "secrets.randbelow": "secrets.randbelow()",
    "secrets.token_bytes": "secrets.token_bytes()",
    "secrets.token_hex": "secrets.token_hex()",
    "random.SystemRandom": "random.SystemRandom()",
    "torch.seed": "torch.seed()",
    "torch.random.seed": "torch.seed()",
    "torch.cuda.seed": "torch.cuda.seed()",
}
#: Calls that reseed a global generator from OS entropy (or the clock) when given no seed ->
#: (how messages name them, the keyword that carries their seed; None: they take no seed). The classic case is
#: ``worker_init_fn=lambda _: np.random.seed()``: every worker, in every run, gets a fresh state.
ENTROPY_RESEEDS: dict[str, tuple[str, str | None]] = {
    "random.seed": ("random.seed", "a"),
    "numpy.random.seed": ("np.random.seed", "seed"),
    "numpy.random.mtrand.seed": ("np.random.seed", "seed"),
    "torch.seed": ("torch.seed", None),
    "torch.random.seed": ("torch.seed", None),
    "torch.cuda.seed": ("torch.cuda.seed", None),
    "torch.cuda.seed_all": ("torch.cuda.seed_all", None),
    "torch.cuda.random.seed": ("torch.cuda.seed", None),
    "torch.cuda.random.seed_all": ("torch.cuda.seed_all", None),
}
#: Calls whose first argument (or seed keyword) is a seed.
SEED_SINK_QUALNAMES: frozenset[str] = frozenset(
    {"random.seed", "numpy.random.seed", "torch.manual_seed", "torch.random.manual_seed",
     "torch.cuda.manual_seed", "torch.cuda.manual_seed_all", *UNSEEDED_CTORS}
)
#: Last components of seeding helpers from any library (``pl.seed_everything``, ``set_seed``).
SEED_SINK_SUFFIXES: frozenset[str] = frozenset(
    {"seed_everything", "set_random_seed", "set_seed", "derive_seed", "init_random_seed",
     "manual_seed", "manual_seed_all"}
)
SEED_KEYWORDS: frozenset[str] = frozenset({"seed", "random_state", "random_seed", "base_seed"})
#: A name that holds a seed: ``seed``/``seeds`` as a word of it (``base_seed``, ``SEED``,
#: ``randomSeed``, ``make_seed``), not ``seeded``/``seeding``, and no timing word -- so
#: ``seeding_time = time.perf_counter() - t0`` or a ``bench_seeded()`` that returns a duration
#: is not taken for a seed made from the clock.
SEED_HOLDER = re.compile(r"(?:^|_)seeds?\d*(?:_|$)", re.IGNORECASE)
TIMING_WORD = re.compile(
    r"(?:^|_)(?:time|times|timing|secs?|seconds|ms|ns|us|duration|elapsed|took|dt)(?:_|$)",
    re.IGNORECASE,
)

# --- RPT011: global seed after creation ---------------------------------------------------

GLOBAL_SEED_QUALNAMES: frozenset[str] = frozenset(
    {"random.seed", "numpy.random.seed", "torch.manual_seed", "torch.random.manual_seed",
     "torch.cuda.manual_seed_all"}
)
GLOBAL_SEED_SUFFIXES: frozenset[str] = frozenset({"seed_everything", "set_random_seed", "set_seed"})

#: Assignment targets whose value, when a call, is taken to be a freshly built model/loader.
MODEL_TARGET = re.compile(
    r"(?:^|_)(?:model|net|network|backbone|encoder|decoder|classifier|detector|generator_net|"
    r"discriminator|loader|dataloader)s?$",
    re.IGNORECASE,
)
#: torch.nn classes whose construction draws initial weights from the global stream.
PARAMETRIC_LAYER = re.compile(
    r"^(?:Linear|Bilinear|LazyLinear|(?:Lazy)?Conv(?:Transpose)?[123]d|Embedding(?:Bag)?|"
    r"RNN|LSTM|GRU|RNNCell|LSTMCell|GRUCell|Transformer\w*|MultiheadAttention)$"
)
#: Calls that return an existing or loaded object rather than building one.
NOT_CREATION: frozenset[str] = frozenset(
    {"iter", "next", "list", "tuple", "dict", "len", "enumerate", "zip", "sorted", "getattr",
     "torch.load", "copy.deepcopy", "copy.copy", "isinstance", "torch.compile", "torch.jit.load",
     "torch.jit.script", "torch.jit.trace"}
)

# --- RPT010: DataLoader -------------------------------------------------------------------

DATALOADERS: frozenset[str] = frozenset(
    {"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader",
     "torchdata.stateful_dataloader.StatefulDataLoader", "DataLoader", "StatefulDataLoader"}
)
#: Positional index of DataLoader parameters (torch.utils.data.DataLoader signature).
DATALOADER_POSITIONS: dict[str, int] = {
    "shuffle": 2,
    "sampler": 3,
    "batch_sampler": 4,
    "num_workers": 5,
    "worker_init_fn": 10,
    "generator": 12,
}

# --- RPT009: CUDA work --------------------------------------------------------------------

#: ``torch.cuda`` functions that do not start CUDA work.
CUDA_LAZY_OK: frozenset[str] = frozenset(
    {"is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all",
     "seed", "seed_all", "is_bf16_supported", "get_arch_list"}
)

# --- RPT006: seed arithmetic --------------------------------------------------------------

WORKER_NAME = re.compile(
    r"(?:rank|^worker_?id|^worker_?idx|^worker_?index|^wid|^worker_?rank|process_index|"
    r"^proc_?id|^gpu_?id|^device_?id|^local_?process_index)$",
    re.IGNORECASE,
)
#: Names that hold a seed in arithmetic (``seed``, ``base_seed``, ``cfg.SEED``, ``base``).
SEED_NAME = re.compile(r"seed|(?:^|_)base(?:_|$)", re.IGNORECASE)
#: Names that usually hold integers (hash() of them is stable).
INT_HINT = re.compile(r"seed|rank|epoch|step|idx|index|(?:^|_)id$|num|count|worker|iter|size",
                      re.IGNORECASE)

# --- RPT012: nondeterministic CUDA operations ---------------------------------------------
# value: (what, alternative, deterministic implementation exists under
#         torch.use_deterministic_algorithms(True))

_DET = "torch.use_deterministic_algorithms(True) selects a deterministic implementation"
_GATHER = ("-log_probs.gather(1, target[:, None]).mean() is deterministic under deterministic "
           "algorithms (mind ignore_index and weights)")

NONDET_FUNCS: dict[str, tuple[str, str, bool]] = {
    "torch.index_add": ("index_add", _DET, True),
    "torch.scatter_add": ("scatter_add", _DET, True),
    "torch.scatter_reduce": ("scatter_reduce", _DET + " for sum/mean", True),
    "torch.bincount": ("bincount with weights",
                       "zeros(n).index_add_(0, x, weights) under deterministic algorithms", False),
    "torch.histc": ("histc", "bucketize + index_add_ under deterministic algorithms, or "
                    "torch.histogram on CPU", False),
    "torch.cumsum": ("cumsum on floating-point CUDA tensors",
                     "no deterministic CUDA kernel; cumsum in float64 on CPU if it matters",
                     False),
    "torch.nn.functional.interpolate": ("interpolate (linear/bilinear/bicubic/trilinear) "
                                        "backward", "mode='nearest' has a deterministic "
                                        "backward", False),
    "torch.nn.functional.upsample": ("upsample (linear/bilinear/bicubic/trilinear) backward",
                                     "mode='nearest' has a deterministic backward", False),
    "torch.nn.Upsample": ("Upsample (linear/bilinear/bicubic/trilinear) backward",
                          "mode='nearest' has a deterministic backward", False),
    "torch.nn.UpsamplingBilinear2d": ("UpsamplingBilinear2d backward",
                                      "Upsample(mode='nearest') has a deterministic backward",
                                      False),
    "torch.nn.functional.upsample_bilinear": ("upsample_bilinear backward",
                                              "mode='nearest' has a deterministic backward",
                                              False),
    "torch.nn.functional.grid_sample": ("grid_sample backward",
                                        "no deterministic CUDA backward in PyTorch", False),
    "torch.nn.functional.nll_loss": ("nll_loss", _GATHER, False),
    "torch.nn.NLLLoss": ("NLLLoss", _GATHER, False),
    "torch.nn.functional.embedding_bag": ("embedding_bag(mode='max') backward",
                                          "mode='sum' or 'mean' is deterministic", False),
    "torch.nn.EmbeddingBag": ("EmbeddingBag(mode='max') backward",
                              "mode='sum' or 'mean' is deterministic", False),
    "torch.nn.functional.ctc_loss": ("ctc_loss backward",
                                     "no deterministic CUDA backward; compute it on CPU", False),
    "torch.nn.CTCLoss": ("CTCLoss backward", "no deterministic CUDA backward; compute it on CPU",
                         False),
    "torch.nn.AdaptiveAvgPool2d": ("AdaptiveAvgPool2d backward",
                                   "for output size 1 use x.mean(dim=(-2, -1), keepdim=True)",
                                   False),
    "torch.nn.AdaptiveAvgPool3d": ("AdaptiveAvgPool3d backward",
                                   "for output size 1 use x.mean(dim=(-3, -2, -1), keepdim=True)",
                                   False),
    "torch.nn.functional.adaptive_avg_pool2d": ("adaptive_avg_pool2d backward",
                                                "for output size 1 use x.mean(dim=(-2, -1), "
                                                "keepdim=True)", False),
    "torch.nn.functional.adaptive_avg_pool3d": ("adaptive_avg_pool3d backward",
                                                "for output size 1 use x.mean(dim=(-3, -2, -1), "
                                                "keepdim=True)", False),
    "torch.nn.MaxPool3d": ("MaxPool3d backward", _DET, True),
    "torch.nn.functional.max_pool3d": ("max_pool3d backward", _DET, True),
    "torch.nn.ReflectionPad1d": ("ReflectionPad1d backward", "no deterministic CUDA backward; "
                                 "ReplicationPad1d is deterministic under deterministic "
                                 "algorithms (different border values)", False),
    "torch.nn.ReflectionPad2d": ("ReflectionPad2d backward", "no deterministic CUDA backward; "
                                 "ReplicationPad2d is deterministic under deterministic "
                                 "algorithms (different border values)", False),
    "torch.nn.ReflectionPad3d": ("ReflectionPad3d backward", "no deterministic CUDA backward; "
                                 "ReplicationPad3d is deterministic under deterministic "
                                 "algorithms (different border values)", False),
    "torch.nn.ReplicationPad1d": ("ReplicationPad1d backward", _DET, True),
    "torch.nn.ReplicationPad2d": ("ReplicationPad2d backward", _DET, True),
    "torch.nn.ReplicationPad3d": ("ReplicationPad3d backward", _DET, True),
    "torch.nn.functional.pad": ("pad(mode='reflect'/'replicate') backward",
                                "mode='constant' is deterministic; 'replicate' is under "
                                "deterministic algorithms", False),
}
#: Tensor methods (any receiver) -> same triple.
NONDET_METHODS: dict[str, tuple[str, str, bool]] = {
    "index_add_": ("index_add_", _DET, True),
    "index_add": ("index_add", _DET, True),
    "scatter_add_": ("scatter_add_", _DET, True),
    "scatter_add": ("scatter_add", _DET, True),
    "scatter_reduce_": ("scatter_reduce_", _DET + " for sum/mean", True),
    "scatter_reduce": ("scatter_reduce", _DET + " for sum/mean", True),
    "index_put_": ("index_put_(accumulate=True)", _DET, True),
    "index_put": ("index_put(accumulate=True)", _DET, True),
    "bincount": NONDET_FUNCS["torch.bincount"],
    "histc": NONDET_FUNCS["torch.histc"],
    "cumsum": NONDET_FUNCS["torch.cumsum"],
}
#: Mode values that make interpolation/padding nondeterministic.
NONDET_MODES: dict[str, frozenset[str]] = {
    "interpolate": frozenset({"linear", "bilinear", "bicubic", "trilinear"}),
    "pad": frozenset({"reflect", "replicate"}),
    "embedding_bag": frozenset({"max"}),
}
