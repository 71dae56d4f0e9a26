"""Each lint rule: code that must be flagged, and look-alikes that must not be.

Everything goes through the public ``check_source``; the code is only parsed,
so snippets need not be runnable.
"""

from __future__ import annotations

import textwrap

import pytest

from reprotorch.lint import RULES, check_source


def codes(src: str, code: str | None = None) -> list[tuple[int, str]]:
    """(line, code) of every finding, optionally only of one rule."""
    found = check_source(textwrap.dedent(src))
    return [(f.line, f.code) for f in found if code is None or f.code == code]


# (rule, source, expected lines) -- positives
POSITIVES = [
    # RPT001: set order into a list, an index mapping, a loop
    ("RPT001", "classes = list(set(labels))\nidx = {c: i for i, c in enumerate(classes)}\n", [1]),
    ("RPT001", "for c in set(labels):\n    register(c)\n", [1]),
    ("RPT001", "m = {k: i for i, k in enumerate(set(names))}\n", [1]),
    ("RPT001", "for c in frozenset(tags):\n    layers.append(build(c))\nuse(layers)\n", [1]),
    ("RPT001", "s = {a, b}\nfirst = s.pop()\n", [2]),
    ("RPT001", "vocab = set()\nfor w in words:\n    vocab.add(w)\nitos = list(vocab)\nreturn_ids(itos)\n", [4]),
    ("RPT001", "def f(tags: set[str]):\n    return list(tags)\n", [2]),
    ("RPT001", "import torch\nt = torch.tensor([ids[c] for c in set(cats)])\n", [2]),
    ("RPT001", "mapping = {}\nfor lab in set(labels):\n    mapping[lab] = len(mapping)\n", [2]),
    ("RPT001", "import torch.nn as nn\nheads = {}\nfor t in set(tasks):\n    heads[t] = nn.Linear(4, 2)\n", [3]),
    ("RPT001", "keys = a.keys() - b.keys()\nfor i, k in enumerate(keys):\n    use(i, k)\n", [2]),
    # RPT002: unsorted listings used in order
    ("RPT002", "import os\nfor f in os.listdir(d):\n    process(f)\n", [2]),
    ("RPT002", "import os\nfiles = os.listdir(d)\nfirst = files[0]\n", [2]),
    ("RPT002", "from os import listdir\nnames = [n for n in listdir(d) if n.endswith('.png')]\nreturn_them(names)\n", [2]),
    ("RPT002", "import glob\nds = Dataset(glob.glob('*.jpg'))\n", [2]),
    ("RPT002", "import glob\nfor p in glob.iglob('**/*.pt', recursive=True):\n    load(p)\n", [2]),
    ("RPT002", "from pathlib import Path\nfiles = list(Path(root).rglob('*.wav'))\nprint_first = files[0]\n", [2]),
    ("RPT002", "for d in root.iterdir():\n    if d.is_dir():\n        out.append(d)\nconsume(out)\n", [1]),
    ("RPT002", "import os\nwith os.scandir(d) as it:\n    names = [e.name for e in it]\nsave(names)\n", [2]),
    ("RPT002", "import os\ndef f(root):\n    out = []\n    for r, ds, fs in os.walk(root):\n        for n in fs:\n            out.append(n)\n    return out\n", [4]),
    ("RPT002", "import glob\nclass D:\n    def __init__(self):\n        self.files = glob.glob('*.png')\n", [4]),
    ("RPT002", "import os, random\nfiles = os.listdir(d)\nrandom.shuffle(files)\n", [2]),
    # RPT003
    ("RPT003", "import torch\ntorch.backends.cudnn.benchmark = True\n", [2]),
    ("RPT003", "from torch.backends import cudnn\ncudnn.benchmark = True\n", [2]),
    ("RPT003", "import torch.backends.cudnn as cb\ncb.benchmark = True\n", [2]),
    # RPT004
    ("RPT004", "import numpy as np\nrng = np.random.default_rng()\n", [2]),
    ("RPT004", "from numpy.random import default_rng\nrng = default_rng(None)\n", [2]),
    ("RPT004", "import numpy as np\nrs = np.random.RandomState()\n", [2]),
    ("RPT004", "import random\nr = random.Random()\n", [2]),
    ("RPT004", "import torch\ng = torch.Generator()\nperm = torch.randperm(10, generator=g)\n", [2]),
    ("RPT004", "import torch\nperm = torch.randperm(10, generator=torch.Generator(device='cpu'))\n", [2]),
    ("RPT004", "import numpy as np\nss = np.random.SeedSequence()\n", [2]),
    ("RPT004", "import torch\ndef a(s):\n    g = torch.Generator()\n    g.manual_seed(s)\n"
               "def b():\n    g = torch.Generator()\n    return torch.rand(1, generator=g)\n", [6]),
    # RPT005
    ("RPT005", "import time, torch\ntorch.manual_seed(int(time.time()))\n", [2]),
    ("RPT005", "import time\nseed = time.time_ns() % 2**32\n", [2]),
    ("RPT005", "import os, numpy as np\nnp.random.seed(os.getpid())\n", [2]),
    ("RPT005", "import uuid\nargs.seed = uuid.uuid4().int & 0xFFFFFFFF\n", [2]),
    ("RPT005", "import os\nseed = int.from_bytes(os.urandom(4), 'little')\n", [2]),
    ("RPT005", "import random\nrandom.seed(hash(args.experiment_name))\n", [2]),
    ("RPT005", "from datetime import datetime\nimport torch\nt = datetime.now().microsecond\ntorch.manual_seed(t)\n", [3]),
    ("RPT005", "import time\nfrom sklearn.model_selection import train_test_split\nsplit = train_test_split(x, random_state=int(time.time()))\n", [3]),
    ("RPT005", "import time\nrandomSeed = int(time.time())\ncfg = {'seed': time.time_ns()}\n"
               "def make_seed():\n    return int(time.time())\n", [2, 3, 5]),
    # reseeding a global generator from OS entropy: no seed, None, or torch.seed()
    ("RPT005", "import numpy as np\nfrom torch.utils.data import DataLoader\n"
               "l = DataLoader(ds, num_workers=2, worker_init_fn=lambda _: np.random.seed())\n", [3]),
    ("RPT005", "import random\nrandom.seed()\nrandom.seed(None)\nrandom.seed(a=None)\n", [2, 3, 4]),
    ("RPT005", "from numpy.random import seed\nseed(None)\n", [2]),
    ("RPT005", "import torch\ntorch.seed()\ntorch.cuda.seed_all()\ns = torch.seed()\ntorch.manual_seed(s)\n", [2, 3, 4]),
    # RPT006
    ("RPT006", "import numpy as np\nnp.random.seed(seed + worker_id)\n", [2]),
    ("RPT006", "s = args.seed + rank\n", [1]),
    ("RPT006", "s = base + num_workers * rank + worker_id\n", [1]),
    ("RPT006", "import torch.distributed as dist\ns = cfg.seed + dist.get_rank()\n", [2]),
    ("RPT006", "import os\ns = seed + int(os.environ['LOCAL_RANK'])\n", [2]),
    ("RPT006", "s = torch.initial_seed() + info.id\n", [1]),
    ("RPT006", "s = seed ^ local_rank\n", [1]),
    # RPT007
    ("RPT007", "import torch\ntorch.use_deterministic_algorithms(True, warn_only=True)\n", [2]),
    ("RPT007", "import torch\ntorch.set_deterministic_debug_mode('warn')\n", [2]),
    # RPT008
    ("RPT008", "import os\nos.environ['PYTHONHASHSEED'] = str(seed)\n", [2]),
    ("RPT008", "import os\nos.environ.setdefault('PYTHONHASHSEED', '0')\n", [2]),
    ("RPT008", "import os\nos.environ.update(PYTHONHASHSEED='0')\n", [2]),
    ("RPT008", "from os import environ\nenviron['PYTHONHASHSEED'] = '0'\n", [2]),
    # RPT009
    ("RPT009", "import os\nmodel = model.cuda()\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\n", [3]),
    ("RPT009", "import os, torch\nx = torch.ones(3, device='cuda')\nos.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':16:8')\n", [3]),
    ("RPT009", "import os, torch\ndev = torch.device('cuda:0')\nnet.to(dev)\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':16:8'\n", [4]),
    # RPT010
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, batch_size=8, shuffle=True)\n", [2]),
    ("RPT010", "import torch\nl = torch.utils.data.DataLoader(ds, num_workers=4)\n", [2]),
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, 8, True)\n", [2]),
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, sampler=s, num_workers=args.workers)\n", [2]),
    # RPT011
    ("RPT011", "import torch\nmodel = Net()\ntorch.manual_seed(0)\n", [3]),
    ("RPT011", "import torch\nlayer = torch.nn.Linear(3, 3)\nimport random\nrandom.seed(1)\n", [4]),
    ("RPT011", "from torch.utils.data import DataLoader\nimport numpy as np\nloader = DataLoader(ds)\nnp.random.seed(0)\n", [4]),
    ("RPT011", "import lightning as L\ndef main():\n    model = build_model(cfg)\n    L.seed_everything(1)\n", [4]),
    # RPT012
    ("RPT012", "x.index_add_(0, idx, src)\n", [1]),
    ("RPT012", "y = x.scatter_add_(0, idx, src)\n", [1]),
    ("RPT012", "import torch\ny = torch.scatter_reduce(x, 0, i, s, 'sum')\n", [2]),
    ("RPT012", "x.index_put_((i,), v, accumulate=True)\n", [1]),
    ("RPT012", "import torch.nn.functional as F\ny = F.interpolate(x, scale_factor=2, mode='bilinear')\n", [2]),
    ("RPT012", "import torch.nn.functional as F\ny = F.interpolate(x, None, 2, 'trilinear')\n", [2]),
    ("RPT012", "import torch.nn as nn\nup = nn.Upsample(scale_factor=2, mode='bicubic')\n", [2]),
    ("RPT012", "import torch.nn.functional as F\ny = F.grid_sample(x, grid)\n", [2]),
    ("RPT012", "import torch\nh = torch.bincount(x, weights=w)\n", [2]),
    ("RPT012", "import torch\nh = torch.histc(x, bins=10)\n", [2]),
    ("RPT012", "import torch\nc = torch.cumsum(x, dim=0)\n", [2]),
    ("RPT012", "import torch.nn.functional as F\nl = F.nll_loss(logp, t)\n", [2]),
    ("RPT012", "import torch.nn as nn\ne = nn.EmbeddingBag(10, 4, mode='max')\n", [2]),
    ("RPT012", "import torch.nn as nn\nc = nn.CTCLoss()\n", [2]),
    ("RPT012", "import torch.nn as nn\np = nn.AdaptiveAvgPool2d(1)\nq = nn.AdaptiveAvgPool3d(1)\n", [2, 3]),
    ("RPT012", "import torch.nn as nn\np = nn.MaxPool3d(2)\n", [2]),
    ("RPT012", "import torch.nn as nn\np = nn.ReflectionPad2d(1)\nq = nn.ReplicationPad1d(1)\n", [2, 3]),
]

# (rule, source) -- look-alikes that must not be flagged by that rule
NEGATIVES = [
    ("RPT001", "classes = sorted(set(labels))\nidx = {c: i for i, c in enumerate(classes)}\n"),
    ("RPT001", "classes = list(set(labels))\nclasses.sort()\nidx = {c: i for i, c in enumerate(classes)}\n"),
    ("RPT001", "n = len(set(labels))\nok = 'x' in set(labels)\ntotal = sum(set(v))\n"),
    ("RPT001", "seen = set()\nfor x in items:\n    if x not in seen:\n        seen.add(x)\n"),
    ("RPT001", "for i in {1, 2, 3}:\n    use(i)\nfor j in set(range(4)):\n    use(j)\n"),
    ("RPT001", "missing = set(want) - set(have)\nfor k in missing:\n    print('missing', k)\n"),
    ("RPT001", "for k in set(stale):\n    del cache[k]\n"),
    ("RPT001", "for t in set(tags):\n    out[row, vocab[t]] = 1.0\n"),
    ("RPT001", "d = {k: f(k) for k in set(keys)}\nu = {x.lower() for x in set(words)}\n"),
    ("RPT001", "raise ValueError(f'unknown: {set(a) - set(b)}')\n"),
    ("RPT001", "import logging\nlog = logging.getLogger()\nlog.info('classes %s', set(labels))\n"),
    ("RPT001", "uniq = set(labels)\nlabels_str = ', '.join(sorted(uniq))\n"),
    ("RPT002", "import os\nfor f in sorted(os.listdir(p)):\n    load(f)\n"),
    ("RPT002", "import os\nfiles = os.listdir(p)\nfiles.sort()\nfirst = files[0]\n"),
    ("RPT002", "import os\nfiles = [f for f in os.listdir(p) if f.endswith('.pt')]\nfiles = sorted(files)\nuse(files)\n"),
    ("RPT002", "import os\nn = len(os.listdir(p))\nok = 'a.pt' in os.listdir(p)\nempty = not os.listdir(p)\n"),
    ("RPT002", "import glob, os\nlatest = max(glob.glob('*.pt'), key=os.path.getmtime)\n"),
    ("RPT002", "import glob, os\nfor f in glob.glob('tmp_*'):\n    os.remove(f)\n"),
    ("RPT002", "import os\nnames = set(os.listdir(p))\n"),
    ("RPT002", "import glob\nfiles = []\nfor ext in ('png', 'jpg'):\n    files.extend(glob.glob('*.' + ext))\nfiles.sort()\nuse(files)\n"),
    ("RPT002", "import os\nfor r, ds, fs in os.walk(root):\n    ds.sort()\n    for n in sorted(fs):\n        out.append(n)\nuse(out)\n"),
    ("RPT002", "from pathlib import Path\nhas = any(Path(d).glob('*.wav'))\n"),
    ("RPT002", "import os\nindex = {}\nfor f in os.listdir(d):\n    index[f] = os.path.join(d, f)\n"),
    ("RPT003", "import torch\ntorch.backends.cudnn.benchmark = False\n"),
    ("RPT003", "import torch\ntorch.backends.cudnn.benchmark = not args.deterministic\n"),
    ("RPT003", "benchmark = True\nconfig.benchmark = True\n"),
    ("RPT004", "import numpy as np\nrng = np.random.default_rng(seed)\n"),
    ("RPT004", "import numpy as np\nrs = np.random.RandomState(seed=0)\n"),
    ("RPT004", "import random\nr = random.Random(seed)\n"),
    ("RPT004", "import torch\ng = torch.Generator()\nx = 1\ng.manual_seed(0)\n"),
    ("RPT004", "import torch\ng = torch.Generator().manual_seed(0)\n"),
    ("RPT004", "import torch\nclass S:\n    def __init__(self):\n        self.g = torch.Generator()\n    def set_epoch(self, e):\n        self.g.manual_seed(self.seed + e)\n"),
    ("RPT004", "import torch\ng = torch.Generator()\ng.set_state(state)\n"),
    ("RPT004", "import torch\ng = torch.Generator()\nseed_generator(g, 0)\n"),
    ("RPT004", "import torch\ng = torch.Generator()\ndef main(seed):\n    g.manual_seed(seed)\n"),
    ("RPT005", "import time\nt0 = time.time()\nelapsed = time.time() - t0\n"),
    ("RPT005", "from reprotorch import derive_seed\ns = derive_seed(seed, rank)\n"),
    ("RPT005", "import hashlib\nseed = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2**32\n"),
    ("RPT005", "import torch\ntorch.manual_seed(hash((seed, epoch)))\n"),
    ("RPT005", "import datetime\nrun_name = datetime.datetime.now().isoformat()\n"),
    # timings of seeding code are not seeds: "seeding", "seeded", or a timing word in the name
    ("RPT005", "import time\nseeding_time = time.perf_counter() - t0\nseed_time_s = time.time() - t0\n"
               "stats = {'seeding_s': time.perf_counter() - t0}\n"
               "def bench_seeded(ds):\n    t0 = time.perf_counter()\n    return time.perf_counter() - t0\n"),
    ("RPT005", "import random, numpy as np\nrandom.seed(seed)\nnp.random.seed(seed=cfg.seed)\nrandom.seed(*args)\n"
               "np.random.seed(**kw)\ng.seed()\ndef seed():\n    pass\nseed()\n"),
    ("RPT006", "from reprotorch import derive_seed\ns = derive_seed(seed, rank)\n"),
    ("RPT006", "s = seed + 1\nt = seed + epoch\n"),
    ("RPT006", "offset = rank * shard + 1\n"),
    ("RPT006", "ws = torch.initial_seed() % 2**32\n"),
    ("RPT007", "import torch\ntorch.use_deterministic_algorithms(True)\n"),
    ("RPT007", "import torch\ntorch.use_deterministic_algorithms(True, warn_only=False)\n"),
    ("RPT007", "import torch\ntorch.use_deterministic_algorithms(False, warn_only=True)\n"),
    ("RPT008", "import os, subprocess\nenv = dict(os.environ)\nenv['PYTHONHASHSEED'] = '0'\nsubprocess.run(cmd, env=env)\n"),
    ("RPT008", "import os\nh = os.environ.get('PYTHONHASHSEED')\n"),
    ("RPT009", "import os\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\nmodel = model.cuda()\n"),
    ("RPT009", "import os, torch\nif torch.cuda.is_available():\n    os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\n"),
    ("RPT009", "import os\ndef a():\n    m.cuda()\ndef b():\n    os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\n"),
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, shuffle=True, generator=g)\n"),
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, num_workers=4, worker_init_fn=f)\n"),
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, batch_size=8)\nm = DataLoader(ds, shuffle=False, num_workers=0)\n"),
    ("RPT010", "from reprotorch.data import SeededDataLoader\nl = SeededDataLoader(ds, shuffle=True, num_workers=4, seed=0)\n"),
    ("RPT010", "from torch.utils.data import DataLoader\nl = DataLoader(ds, **loader_kwargs)\n"),
    ("RPT011", "import torch\ntorch.manual_seed(0)\nmodel = Net()\ntorch.manual_seed(1)\n"),
    ("RPT011", "import torch\ncriterion = torch.nn.CrossEntropyLoss()\ntorch.manual_seed(0)\n"),
    ("RPT011", "import torch\nmodel = Net()\ndef later():\n    torch.manual_seed(0)\n"),
    ("RPT011", "import torch\nmodel = torch.load('m.pt', weights_only=False)\ntorch.manual_seed(0)\n"),
    ("RPT012", "import torch.nn.functional as F\ny = F.interpolate(x, scale_factor=2)\nz = F.interpolate(x, size=4, mode='nearest')\n"),
    ("RPT012", "import torch\nb = torch.bincount(x)\nc = mask.long().cumsum(1)\nd = (x > 0).cumsum(0)\n"),
    ("RPT012", "x.index_put_((i,), v)\n"),
    ("RPT012", "import numpy as np\nc = np.cumsum(a)\n"),
    ("RPT012", "import torch.nn as nn\ne = nn.EmbeddingBag(10, 4, mode='sum')\np = nn.AdaptiveMaxPool1d(1)\n"),
    ("RPT012", "import torch\ntorch.use_deterministic_algorithms(True)\ny = x.index_add_(0, i, s)\np = torch.nn.MaxPool3d(2)\n"),
]


@pytest.mark.parametrize(("code", "src", "lines"), POSITIVES)
def test_positive(code: str, src: str, lines: list[int]) -> None:
    assert codes(src, code) == [(line, code) for line in lines]


@pytest.mark.parametrize(("code", "src"), NEGATIVES)
def test_negative(code: str, src: str) -> None:
    assert codes(src, code) == []


def test_every_rule_has_positive_and_negative_cases() -> None:
    for code in RULES:
        if code == "RPT000":
            continue
        assert any(c == code for c, *_ in POSITIVES), code
        assert any(c == code for c, _ in NEGATIVES), code


@pytest.mark.parametrize("code", sorted(RULES))
def test_documented_examples(code: str) -> None:
    """The wrong example of each rule (README, --explain) is flagged; the right one is clean."""
    rule = RULES[code]
    assert code in {f.code for f in check_source(rule.wrong)}
    assert check_source(rule.right) == []


def test_rpt000_is_reported_once_with_position() -> None:
    found = check_source("import os\ndef f(:\n    pass\n", "bad.py")
    assert [(f.code, f.line, f.path) for f in found] == [("RPT000", 2, "bad.py")]
    assert found[0].severity == "error" and "syntax error" in found[0].message


def test_rpt012_is_information_and_names_an_alternative() -> None:
    (finding,) = check_source("import torch.nn.functional as F\nF.interpolate(x, None, 2, 'bilinear')\n")
    assert finding.severity == "info"
    assert "nearest" in finding.fix


def test_deterministic_mode_only_silences_ops_that_have_a_deterministic_kernel() -> None:
    src = ("import torch\ntorch.use_deterministic_algorithms(True)\n"
           "a = x.scatter_add_(0, i, s)\nb = torch.histc(x)\n")
    assert codes(src) == [(4, "RPT012")]


def test_findings_point_at_the_fix_location() -> None:
    src = "import os\n\nfiles = os.listdir(d)\n\n\nfor f in files:\n    go(f)\n"
    (finding,) = check_source(src)
    assert (finding.line, finding.col, finding.code) == (3, 9, "RPT002")
    assert "line 6" in finding.message and "sorted(os.listdir(...))" in finding.fix


def test_module_level_listing_used_in_a_function() -> None:
    src = "import os\nFILES = os.listdir('d')\n\ndef get(i):\n    return FILES[i]\n"
    assert codes(src) == [(2, "RPT002")]


def test_each_origin_is_reported_once() -> None:
    src = "import os\nfiles = os.listdir(d)\na = files[0]\nb = files[1]\nfor f in files:\n    go(f)\n"
    assert codes(src) == [(2, "RPT002")]
