"""reprotorch.fingerprint: bit-exact, stable content hashes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from reprotorch import fingerprint
from reprotorch.fingerprint import _device_digest, _plain, tensor_summary

FP = re.compile(r"^xxh3-128:[0-9a-f]{32}$")

# Every strided dtype a tensor can have in this torch build (those with arithmetic
# and those without), so that a new dtype cannot slip past the bit-flip test.
DTYPES = [
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
    torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz,
    torch.float8_e8m0fnu,
    torch.complex32, torch.complex64, torch.complex128,
    torch.int8, torch.int16, torch.int32, torch.int64,
    torch.uint8, torch.uint16, torch.uint32, torch.uint64,
]


def random_tensor(dtype: torch.dtype, n: int = 13, seed: int = 0) -> torch.Tensor:
    """``n`` elements of ``dtype`` with random bytes (a bit pattern, not a value distribution)."""
    g = torch.Generator().manual_seed(seed)
    raw = torch.randint(0, 256, (n * dtype.itemsize,), dtype=torch.uint8, generator=g)
    return raw.view(dtype)


def flip_bit(t: torch.Tensor, byte: int, bit: int) -> torch.Tensor:
    out = t.clone()
    raw = out.view(torch.uint8)
    raw[byte] ^= 1 << bit
    return out


def test_format_and_determinism() -> None:
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    fp = fingerprint(t)
    assert FP.match(fp)
    assert fingerprint(t) == fp
    assert fingerprint(t.clone()) == fp


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_single_bit_flip_changes_the_fingerprint(dtype: torch.dtype) -> None:
    t = random_tensor(dtype)
    base = fingerprint(t)
    nbytes = t.numel() * dtype.itemsize
    seen = {base}
    # every bit of the first element, the last element, and one in the middle
    positions = [(b, bit) for b in range(dtype.itemsize) for bit in range(8)]
    positions += [(nbytes - 1 - b, bit) for b in range(dtype.itemsize) for bit in range(8)]
    positions += [(nbytes // 2, 3)]
    for byte, bit in positions:
        fp = fingerprint(flip_bit(t, byte, bit))
        assert fp != base, f"flipping bit {bit} of byte {byte} left {dtype} unchanged"
        seen.add(fp)
    assert len(seen) == len(set(positions)) + 1  # and all flips differ from each other


def test_bool_tensor_each_element_flip() -> None:
    t = torch.tensor([True, False, True, True, False])
    base = fingerprint(t)
    for i in range(t.numel()):
        u = t.clone()
        u[i] = ~u[i]
        assert fingerprint(u) != base


def test_dtype_and_shape_are_part_of_the_content() -> None:
    t = torch.arange(6, dtype=torch.int32)
    fps = {
        fingerprint(t),
        fingerprint(t.reshape(2, 3)),
        fingerprint(t.reshape(3, 2)),
        fingerprint(t.reshape(1, 6)),
        fingerprint(t.view(torch.float32)),  # same bytes, other dtype
        fingerprint(t.view(torch.uint8).reshape(-1)[:0]),
        fingerprint(torch.empty(0, dtype=torch.int32)),
        fingerprint(torch.empty(0, 3, dtype=torch.int32)),
    }
    assert len(fps) == 8
    assert fingerprint(torch.tensor(5.0)) != fingerprint(torch.tensor([5.0]))


def test_views_equal_their_contiguous_copies() -> None:
    base = torch.randn(6, 8, 5, generator=torch.Generator().manual_seed(1))
    views = {
        "transpose": base.transpose(0, 2),
        "permute": base.permute(1, 2, 0),
        "strided slice": base[1::2, ::3, 1:],
        "storage offset": base[2:, 3],
        "expand (stride 0)": base[:1, :1, :].expand(4, 3, 5),
        "channels_last": base[None].contiguous(memory_format=torch.channels_last),
        "negative view": torch._neg_view(base),
        "diagonal": base[:, :5, :].diagonal(dim1=1, dim2=2),
        "requires_grad": base.clone().requires_grad_(),
        "parameter": torch.nn.Parameter(base.clone()),
    }
    for name, v in views.items():
        assert fingerprint(v) == fingerprint(v.detach().clone(memory_format=torch.contiguous_format)), name
    c = torch.randn(4, 3, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))
    assert c.conj().is_conj()
    assert fingerprint(c.conj()) == fingerprint(c.conj().resolve_conj())
    assert fingerprint(c.conj()) != fingerprint(c)
    assert fingerprint(c.t()) == fingerprint(c.t().contiguous())


def test_views_of_dtypes_numpy_lacks() -> None:
    for dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.complex32, torch.bool):
        if dtype == torch.bool:
            t = (random_tensor(torch.uint8, 24, seed=3) % 2).bool().reshape(4, 6)
        else:
            t = random_tensor(dtype, 24, seed=3).reshape(4, 6)
        assert fingerprint(t.t()) == fingerprint(t.t().contiguous()), dtype
        assert fingerprint(t[1:, ::2]) == fingerprint(t[1:, ::2].contiguous()), dtype


def test_quantized_tensors() -> None:
    x = torch.linspace(-1, 1, 10)
    q = torch.quantize_per_tensor(x, 0.1, 0, torch.qint8)
    assert fingerprint(q) == fingerprint(torch.quantize_per_tensor(x.clone(), 0.1, 0, torch.qint8))
    assert fingerprint(q) != fingerprint(torch.quantize_per_tensor(x, 0.2, 0, torch.qint8))
    assert fingerprint(q) != fingerprint(q.int_repr())


def test_python_values_and_containers() -> None:
    values = [None, True, False, 0, 1, -1, 2**100, -(2**100), 1.0, -0.0, 0.0, float("nan"),
              float("inf"), 1j, "1", "", b"1", b"", [], (), {}, [1], (1,), {"1": 1}, [[1], [2]],
              [[1, 2]], ["ab", "c"], ["a", "bc"], torch.float32, torch.device("cpu"), {1, 2}]
    fps = [fingerprint(v) for v in values]
    assert all(FP.match(f) for f in fps)
    assert len(set(fps)) == len(values), "distinct values must have distinct fingerprints"
    assert fingerprint(bytearray(b"xy")) == fingerprint(b"xy")


def test_dict_order_does_not_matter_but_content_does() -> None:
    a = {"b": torch.ones(2), "a": [1, 2.0, "x"], 3: None, (1, 2): {"z": 1, "y": 2}}
    b = {(1, 2): {"y": 2, "z": 1}, 3: None, "a": [1, 2.0, "x"], "b": torch.ones(2)}
    assert list(a) != list(b)
    assert fingerprint(a) == fingerprint(b)
    c = dict(b)
    c["a"] = [1, 2.0, "y"]
    assert fingerprint(c) != fingerprint(a)
    # the key belongs to its value: swapping values between keys changes the content
    assert fingerprint({"x": 1, "y": 2}) != fingerprint({"x": 2, "y": 1})
    assert fingerprint({1, 2, 3}) == fingerprint({3, 2, 1})


def test_numpy_arrays() -> None:
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a.T) == fingerprint(np.ascontiguousarray(a.T))
    assert fingerprint(a.astype(">f4")) == fingerprint(a)  # byte order is storage, not content
    assert fingerprint(a.astype(np.float64)) != fingerprint(a)
    assert fingerprint(a.reshape(6, 4)) != fingerprint(a)
    b = a.copy()
    b.reshape(-1).view(np.uint8)[5] ^= 0x10
    assert fingerprint(b) != fingerprint(a)
    assert fingerprint(np.float32(1.5)) == fingerprint(np.array(1.5, dtype=np.float32))
    assert fingerprint(np.float32(1.5)) != fingerprint(1.5)


def test_modules_are_their_state_dict() -> None:
    torch.manual_seed(0)
    m1 = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    torch.manual_seed(0)
    m2 = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    assert fingerprint(m1) == fingerprint(m2) == fingerprint(m1.state_dict())
    with torch.no_grad():
        w = m2[0].weight
        w[1, 2] = torch.nextafter(w[1, 2], torch.tensor(float("inf")))
    assert fingerprint(m1) != fingerprint(m2)
    m3 = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    m3.load_state_dict(m1.state_dict())
    m3[1].running_mean += 1  # a buffer, not a parameter
    assert fingerprint(m3) != fingerprint(m1)


def test_optimizers_are_their_state_dict() -> None:
    def make(lr: float = 0.1) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        m = torch.nn.Linear(3, 2)
        return m, torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)

    (m1, o1), (m2, o2), (_, o3) = make(), make(), make(lr=0.2)
    assert fingerprint(o1) == fingerprint(o2) == fingerprint(o1.state_dict())
    assert fingerprint(o1) != fingerprint(o3)
    for m, o in ((m1, o1), (m2, o2)):
        m(torch.ones(1, 3)).sum().backward()
        o.step()
    assert fingerprint(o1) == fingerprint(o2)  # same momentum buffers
    m2(torch.ones(1, 3)).sum().backward()
    o2.step()
    assert fingerprint(o1) != fingerprint(o2)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: torch.eye(3).to_sparse(), "sparse"),
        (lambda: torch.eye(3).to_sparse_csr(), "sparse"),
        (lambda: torch.empty(3, device="meta"), "meta"),
        (lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]), "nested"),
        (lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)], layout=torch.jagged), "nested"),
        (lambda: object(), "object"),
        (lambda: np.array([1, "a"], dtype=object), "object"),
        (lambda: [1, {"a": lambda: 0}], "function"),
    ],
)
def test_rejected_types(make, needle: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = make()
    with pytest.raises(TypeError, match=needle):
        fingerprint(obj)


def test_self_containing_container_is_a_value_error() -> None:
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        fingerprint(loop)
    shared = [1, 2]
    assert FP.match(fingerprint([shared, shared]))  # shared, not cyclic: fine


_CROSS_PROCESS = r"""
import json, sys
import numpy as np, torch
from reprotorch import fingerprint
g = torch.Generator().manual_seed(7)
objs = {
    "f32": torch.randn(5, 7, generator=g),
    "bf16_view": torch.randn(8, 4, generator=g).to(torch.bfloat16).t(),
    "dict": {"zeta": 1, "alpha": [1.5, "x", None], "mid": (b"\x00", True)},
    "np": np.arange(10, dtype=np.int64).reshape(2, 5),
}
json.dump({k: fingerprint(v) for k, v in objs.items()}, sys.stdout)
"""


def test_same_fingerprint_in_other_processes() -> None:
    outs = []
    for hashseed in ("1", "2"):  # string hashing differs between these processes
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        res = subprocess.run([sys.executable, "-c", _CROSS_PROCESS], capture_output=True,
                             text=True, env=env, timeout=120, check=True)
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1]
    g = torch.Generator().manual_seed(7)
    here = {
        "f32": fingerprint(torch.randn(5, 7, generator=g)),
        "bf16_view": fingerprint(torch.randn(8, 4, generator=g).to(torch.bfloat16).t()),
        "dict": fingerprint({"alpha": [1.5, "x", None], "mid": (b"\x00", True), "zeta": 1}),
        "np": fingerprint(np.arange(10, dtype=np.int64).reshape(2, 5)),
    }
    assert outs[0] == here


def test_encoding_follows_its_documented_layout() -> None:
    """Rebuild two fingerprints by hand from the documented encoding.

    This pins the encoding: changing it silently would make every stored trace
    incomparable. If it changes on purpose, bump the trace format version.
    """
    import struct

    import xxhash

    def u64(n: int) -> bytes:
        return struct.pack("<Q", n)

    # xxh3-128 itself: the published digest of the empty input
    assert xxhash.xxh3_128(b"").hexdigest() == "99aa06d3014798d86001c324468d497f"

    t = torch.arange(10, dtype=torch.float32)
    dtype = b"torch.float32"
    expected = b"T" + u64(len(dtype)) + dtype + u64(1) + u64(10) + b"h" + t.numpy().tobytes()
    assert fingerprint(t) == "xxh3-128:" + xxhash.xxh3_128(expected).hexdigest()

    def digest(data: bytes) -> bytes:
        return xxhash.xxh3_128(data).digest()

    key_a, key_b = b"S" + u64(1) + b"a", b"S" + u64(1) + b"b"
    val_a = b"S" + u64(1) + b"x"
    val_b = b"L" + u64(3) + b"I+" + u64(1) + b"\x01" + b"F" + struct.pack("<d", 2.5) + b"N"
    items = sorted([(digest(key_a), val_a), (digest(key_b), val_b)])
    expected = b"D" + u64(2) + b"".join(k + v for k, v in items)
    assert fingerprint({"b": [1, 2.5, None], "a": "x"}) == "xxh3-128:" + xxhash.xxh3_128(expected).hexdigest()


# --- the on-device digest (the path accelerator tensors take), exercised on the CPU ---


def test_device_digest_is_chunk_independent_and_bit_sensitive() -> None:
    for dtype, n in ((torch.float32, 37), (torch.float16, 37), (torch.uint8, 37), (torch.float64, 9)):
        t = random_tensor(dtype, n, seed=5)
        ref = _device_digest(t)
        assert len(ref) == 17
        for chunk in (1, 3, 8, 16, 40, 1 << 20):
            assert _device_digest(t, chunk_bytes=chunk) == ref, (dtype, chunk)
        nbytes = n * dtype.itemsize
        digests = {ref}
        for byte in range(nbytes):
            for bit in (0, 7):
                digests.add(_device_digest(flip_bit(t, byte, bit), chunk_bytes=16))
        assert len(digests) == 2 * nbytes + 1


def test_device_digest_of_views_and_misaligned_offsets() -> None:
    base = torch.randn(33, generator=torch.Generator().manual_seed(3))
    part = base[1:]  # storage offset of 4 bytes: not 8-byte aligned
    assert _device_digest(_plain(part)) == _device_digest(part.clone())
    m = torch.randn(6, 5, generator=torch.Generator().manual_seed(4))
    assert _device_digest(_plain(m.t())) == _device_digest(m.t().contiguous())
    # swapping two words must change it (a plain sum of words would not notice)
    w = torch.tensor([1, 2, 3, 4], dtype=torch.int64)
    assert _device_digest(w) != _device_digest(torch.tensor([2, 1, 3, 4], dtype=torch.int64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fingerprint_matches_the_device_digest_computed_on_cpu() -> None:  # pragma: no cover
    t = torch.randn(1000, 17, generator=torch.Generator().manual_seed(0))
    on_gpu = fingerprint(t.cuda())
    assert on_gpu == fingerprint(t.cuda())  # deterministic
    assert on_gpu == fingerprint(t.cuda().t().contiguous().t())
    assert _device_digest(t.cuda()) == _device_digest(t)  # integer arithmetic: same everywhere
    u = t.clone()
    u.view(torch.uint8)[123] ^= 1
    assert fingerprint(u.cuda()) != on_gpu


# --- summaries ---


def test_tensor_summary_values() -> None:
    t = torch.tensor([[1.0, -3.0], [0.5, 2.0]])
    assert tensor_summary(t) == {"sum": 0.5, "maxabs": 3.0}
    assert tensor_summary(t.t()) == {"sum": 0.5, "maxabs": 3.0}
    big = torch.full((200_000,), 0.1, dtype=torch.float32)  # crosses the chunked path
    s = tensor_summary(big)
    assert s["sum"] == pytest.approx(200_000 * float(torch.tensor(0.1)), rel=1e-12)
    assert tensor_summary(torch.tensor([1, -7, 3])) == {"sum": -3.0, "maxabs": 7.0}
    assert tensor_summary(torch.tensor([True, False, True])) == {"sum": 2.0, "maxabs": 1.0}
    assert tensor_summary(torch.tensor([1 + 2j, -3 - 1j])) == {"sum": -1.0, "maxabs": 3.0}
    assert tensor_summary(torch.tensor([float("nan"), 1.0])) == {"sum": "nan", "maxabs": "nan"}
    assert tensor_summary(torch.tensor([float("inf"), 1.0]))["sum"] == "inf"
    assert tensor_summary(torch.empty(0)) == {"sum": 0.0, "maxabs": 0.0}
    assert tensor_summary(torch.tensor([1.5, -2.0]).to(torch.float8_e4m3fn)) == {"sum": -0.5, "maxabs": 2.0}


_WITHOUT_XXHASH = """
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name == "xxhash" or name.startswith("xxhash."):
            raise ModuleNotFoundError("No module named 'xxhash'", name="xxhash")

sys.meta_path.insert(0, Missing())
import reprotorch
import reprotorch.tracing
try:
    reprotorch.fingerprint(1)
except ImportError as exc:
    print("fingerprint:", exc)
"""


def test_import_reprotorch_works_without_xxhash() -> None:
    """Only fingerprinting needs xxhash: the package (and its stdlib-only linter) must import without it."""
    res = subprocess.run([sys.executable, "-c", _WITHOUT_XXHASH], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith("fingerprint: reprotorch.fingerprint() needs the xxhash package")
