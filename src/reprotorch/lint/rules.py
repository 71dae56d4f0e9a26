"""The rule catalogue: code, severity, one-line fix and the reason each hazard breaks reproducibility.

The checker (``checker.py``) decides *where* a rule fires; this module says
*what* the rule is. Keeping the documentation next to the code lets
``reprotorch lint --explain RPT002`` print exactly what the README says, and
lets a test check that every code is documented.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .findings import Severity

__all__ = ["Rule", "RULES", "SYNTAX_ERROR", "resolve_codes"]


@dataclass(frozen=True)
class Rule:
    """A lint rule: its stable code, a short name, severity, and its documentation."""

    code: str
    name: str
    severity: Severity
    summary: str
    fix: str
    why: str
    wrong: str
    right: str


_RULES: tuple[Rule, ...] = (
    Rule(
        "RPT000",
        "syntax-error",
        "error",
        "the file could not be parsed, so it was not checked",
        "fix the syntax error (the other files are still checked)",
        "A file that does not parse is not analysed at all; it is reported so that a clean "
        "result never hides an unchecked file.",
        "def train(:\n    ...",
        "def train():\n    ...",
    ),
    Rule(
        "RPT001",
        "set-order",
        "warning",
        "iteration order of a set/frozenset flows into a list, an index mapping or a loop",
        "iterate over sorted(...) of the set instead",
        "The order of a set of str/bytes depends on their hash, which is salted per process "
        "(PYTHONHASHSEED). `list(set(labels))` gives a different class order in every run, "
        "so class indices, embedding rows and sampled subsets change with it.",
        "classes = list(set(labels))\nclass_to_idx = {c: i for i, c in enumerate(classes)}",
        "classes = sorted(set(labels))\nclass_to_idx = {c: i for i, c in enumerate(classes)}",
    ),
    Rule(
        "RPT002",
        "unsorted-listing",
        "warning",
        "a directory listing is used in filesystem order",
        "wrap the listing in sorted(...)",
        "os.listdir, os.scandir, glob and Path.iterdir/glob/rglob return entries in the order "
        "the filesystem stores them, which differs between machines, filesystems and copies of "
        "the same data. Sample i, the train/val split and shuffles seeded identically then "
        "differ.",
        "class Frames(Dataset):\n    def __init__(self, root):\n"
        "        self.files = glob.glob(os.path.join(root, '*.jpg'))",
        "class Frames(Dataset):\n    def __init__(self, root):\n"
        "        self.files = sorted(glob.glob(os.path.join(root, '*.jpg')))",
    ),
    Rule(
        "RPT003",
        "cudnn-benchmark",
        "error",
        "torch.backends.cudnn.benchmark = True selects convolution algorithms by timing",
        "set torch.backends.cudnn.benchmark = False (reprotorch.set_deterministic does it)",
        "With benchmark mode cuDNN times several convolution algorithms on the first call and "
        "keeps the fastest; timing noise picks different algorithms in different runs, and they "
        "round differently.",
        "torch.backends.cudnn.benchmark = True",
        "torch.backends.cudnn.benchmark = False\ntorch.backends.cudnn.deterministic = True",
    ),
    Rule(
        "RPT004",
        "unseeded-generator",
        "error",
        "a random generator is created without a seed",
        "pass a seed, e.g. np.random.default_rng(reprotorch.derive_seed(seed, 'purpose'))",
        "A generator created without a seed draws its seed from the operating system, so every "
        "run gets a different stream no matter how carefully the global seed is set.",
        "rng = np.random.default_rng()\ng = torch.Generator()\nperm = torch.randperm(n, generator=g)",
        "rng = np.random.default_rng(seed)\ng = torch.Generator()\ng.manual_seed(seed)\n"
        "perm = torch.randperm(n, generator=g)",
    ),
    Rule(
        "RPT005",
        "nondeterministic-seed",
        "error",
        "a seed is made from the clock, the process id, uuid, os.urandom or hash() of a string, "
        "or a global generator is reseeded from OS entropy (random.seed(), torch.seed())",
        "take the seed from configuration or the command line and log it",
        "A seed made from time.time(), os.getpid(), uuid4(), os.urandom() or secrets is "
        "different in every run by construction; hash() of a str is salted per process "
        "(PYTHONHASHSEED). The run cannot be repeated unless the seed is recorded. "
        "random.seed() and np.random.seed() without an argument, and torch.seed(), do the same "
        "silently: they reseed the global generator from OS entropy (a worker_init_fn of "
        "`lambda _: np.random.seed()` gives every worker a fresh, unrecorded state).",
        "seed = int(time.time())\ntorch.manual_seed(seed)",
        "seed = args.seed  # from the command line, logged with the run\ntorch.manual_seed(seed)",
    ),
    Rule(
        "RPT006",
        "seed-arithmetic",
        "warning",
        "a worker or rank seed is made by addition, which collides across seeds",
        "use reprotorch.derive_seed(seed, rank, worker_id)",
        "seed + rank makes (seed=0, rank=1) and (seed=1, rank=0) share a stream; "
        "base + num_workers * rank + worker_id collides as soon as two runs use neighbouring "
        "seeds. Runs that should be independent are correlated, and changing the worker count "
        "silently changes which stream a worker gets.",
        "np.random.seed(args.seed + rank)",
        "np.random.seed(reprotorch.derive_seed(args.seed, 'numpy', rank))",
    ),
    Rule(
        "RPT007",
        "deterministic-warn-only",
        "warning",
        "deterministic algorithms requested with warn_only=True",
        "call torch.use_deterministic_algorithms(True) without warn_only",
        "With warn_only=True, operations that have no deterministic implementation still run "
        "their nondeterministic kernel and only emit a warning that is easy to miss (and shown "
        "once), so the run looks deterministic and is not.",
        "torch.use_deterministic_algorithms(True, warn_only=True)",
        "torch.use_deterministic_algorithms(True)",
    ),
    Rule(
        "RPT008",
        "hashseed-in-process",
        "error",
        "PYTHONHASHSEED is set inside the running program, where it has no effect",
        "set it before the interpreter starts: `reprotorch run` or `PYTHONHASHSEED=0 python ...`",
        "Python reads PYTHONHASHSEED once, at interpreter start-up. Setting it in os.environ "
        "does not change the hash salt of the running process, so set and dict-of-str order "
        "still vary between runs.",
        "os.environ['PYTHONHASHSEED'] = str(seed)",
        "# in the shell or launcher, before Python starts:\n"
        "#   reprotorch run --seed 0 -- python train.py",
    ),
    Rule(
        "RPT009",
        "cublas-config-late",
        "error",
        "CUBLAS_WORKSPACE_CONFIG is set after CUDA work in the same scope",
        "set CUBLAS_WORKSPACE_CONFIG before any CUDA call (or use reprotorch.set_deterministic)",
        "cuBLAS reads CUBLAS_WORKSPACE_CONFIG when its handle is created; setting it after "
        "CUDA work has started may be too late, and deterministic cuBLAS results are not "
        "guaranteed.",
        "model = model.cuda()\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'",
        "os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\nmodel = model.cuda()",
    ),
    Rule(
        "RPT010",
        "unseeded-dataloader",
        "warning",
        "DataLoader with shuffle or workers but neither generator= nor worker_init_fn=",
        "pass generator=torch.Generator().manual_seed(seed) (and a worker_init_fn), "
        "or use a SeededDataLoader",
        "Without generator= the shuffle order and the workers' base seed are drawn from the "
        "global torch stream, so any extra draw before the loop (a new layer, a dropout) "
        "changes the data order and every worker's augmentations; the augmentation a sample "
        "gets also depends on which worker loads it, i.e. on num_workers.",
        "loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=4)",
        "g = torch.Generator()\ng.manual_seed(seed)\n"
        "loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=4, generator=g,\n"
        "                    worker_init_fn=seed_worker)",
    ),
    Rule(
        "RPT011",
        "seed-after-creation",
        "error",
        "the global seed is set after the model or DataLoader was created",
        "set the seed before creating the model and the data pipeline",
        "Layers draw their initial weights from the global stream when they are constructed. "
        "A seed set afterwards does not affect them, so the initial model (and anything built "
        "before the seed) is different in every run.",
        "model = ResNet(num_classes)\ntorch.manual_seed(args.seed)",
        "torch.manual_seed(args.seed)\nmodel = ResNet(num_classes)",
    ),
    Rule(
        "RPT012",
        "nondeterministic-op",
        "info",
        "an operation documented as nondeterministic on CUDA",
        "see the message for the deterministic alternative, if PyTorch has one",
        "These kernels use atomic adds (or similar) on CUDA, so floating-point sums are "
        "accumulated in a different order in every run. Some have a deterministic "
        "implementation that torch.use_deterministic_algorithms(True) selects; others have "
        "none and raise under that setting.",
        "out = F.interpolate(x, scale_factor=2, mode='bilinear')",
        "out = F.interpolate(x, scale_factor=2, mode='nearest')  # or accept, documented",
    ),
)

#: Every rule by code, in code order.
RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}

#: The code used for files that do not parse; always reported.
SYNTAX_ERROR = "RPT000"


def resolve_codes(codes: Iterable[str], *, option: str) -> frozenset[str]:
    """Expand user-given codes (exact ``RPT002``, prefixes like ``RPT00``, or ``ALL``).

    Raises ``TypeError`` for a non-string and ``ValueError`` for a code that
    matches no rule, naming ``option`` so the user knows where to look.
    """
    if isinstance(codes, str):
        raise TypeError(f"{option} must be a list of rule codes, got the string {codes!r}; "
                        f"write [{codes!r}]")
    out: set[str] = set()
    for raw in codes:
        if not isinstance(raw, str):
            raise TypeError(f"{option} must contain rule codes as strings, got {raw!r} "
                            f"({type(raw).__name__})")
        code = raw.strip().upper()
        if code == "ALL":
            out.update(RULES)
            continue
        matched = [c for c in RULES if c.startswith(code)] if code else []
        if not matched:
            known = ", ".join(RULES)
            raise ValueError(f"{option}: unknown rule code {raw!r}; expected one of {known}, "
                             f"a prefix of them, or ALL")
        out.update(matched)
    return frozenset(out)
