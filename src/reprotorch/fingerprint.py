"""Bit-exact content fingerprints of tensors, arrays, containers, modules and optimizers.

A fingerprint answers one question -- "is this the same content, bit for bit?" --
cheaply enough to ask it about every activation of every training step. It is a
string ``"xxh3-128:<32 hex digits>"``: the algorithm is part of the value, so a
future change of algorithm can never produce a silent match or mismatch.

What is hashed
    A typed, length-prefixed encoding of the object, fed to one streaming
    xxh3-128 hasher. Tensors contribute their dtype, shape and *logical* content
    in row-major order, so a transposed or sliced view equals its contiguous copy
    and storage offsets, strides, the conjugate/negative bits and
    ``requires_grad`` do not matter. Python ``int``, ``float``, ``bool`` and
    ``str`` are distinct types (``1``, ``1.0``, ``True`` and ``"1"`` all differ);
    ``list`` and ``tuple`` differ; ``dict`` items are taken in a canonical order
    (sorted by the fingerprint of their key), so insertion order does not matter.
    An ``nn.Module`` or optimizer is its ``state_dict()``:
    ``fingerprint(model) == fingerprint(model.state_dict())``.

Why xxh3-128
    It is not cryptographic and need not be: the adversary is floating-point
    nondeterminism, not an attacker. It runs at memory bandwidth (faster than
    ``tensor.clone()``; see ``benchmarks/bench_fingerprint.py``), its output is
    specified independently of platform, and 128 bits make accidental collisions
    across millions of events negligible.

CPU tensors are hashed zero-copy through a ``memoryview`` of their bytes (dtypes
NumPy lacks -- bfloat16, float8, complex32 -- are viewed as bytes). Only a
non-contiguous view is copied, to put it in row-major order.

Accelerator tensors (CUDA, XPU, MPS) are *not* copied to the host: they are
reduced on the device by :func:`_device_digest`, a 128-bit sum of per-word
mixes in wrapping 64-bit integer arithmetic. Integer addition is associative and
commutative, so the result does not depend on how the device schedules the
reduction -- it is deterministic by construction, unlike a floating-point sum --
and since each word's mix is a bijection, any single changed word changes the
digest. Only those 16 bytes cross to the host. The consequence is that an
accelerator tensor's fingerprint differs from the fingerprint of the same content
on the CPU (it is the same on every accelerator); compare traces of runs on the
same kind of device. (This path is exercised on the CPU by the tests; it has not
been run on a GPU in this repository's CI.)

Byte order: tensor and array bytes are hashed as stored, which is little-endian
on every platform PyTorch supports; NumPy arrays stored big-endian are
normalised to little-endian first.
"""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["fingerprint", "tensor_summary", "ALGORITHM"]

ALGORITHM = "xxh3-128"

# Type tags of the encoding. Each value is preceded by exactly one tag byte, and
# every variable-length part carries its length, so the encoding is injective.
_T_NONE = b"N"
_T_BOOL = b"B"
_T_INT = b"I"
_T_FLOAT = b"F"
_T_COMPLEX = b"C"
_T_STR = b"S"
_T_BYTES = b"Y"
_T_LIST = b"L"
_T_TUPLE = b"U"
_T_DICT = b"D"
_T_SET = b"E"
_T_TENSOR = b"T"
_T_ARRAY = b"A"
_T_TORCH_META = b"M"  # torch.dtype, torch.device

# How a tensor's content follows its header.
_MODE_HOST_BYTES = b"h"  # raw row-major bytes (CPU)
_MODE_DEVICE_DIGEST = b"d"  # 16-byte on-device digest (accelerators)
_MODE_QUANTIZED = b"q"  # int_repr plus quantisation parameters

_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_C128 = struct.Struct("<dd")
_MASK64 = (1 << 64) - 1


def _u64(n: int) -> bytes:
    return _U64.pack(n)


def fingerprint(obj: Any) -> str:
    """Return ``"xxh3-128:<32 hex>"``, a bit-exact content hash of ``obj``.

    Accepted: ``torch.Tensor`` (every strided dtype, any device, any strides),
    ``numpy.ndarray`` and NumPy scalars (not ``object`` dtype), ``None``,
    ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``/``bytearray``,
    ``torch.dtype``/``torch.device``, and ``list``/``tuple``/``dict``/``set``
    nesting of these; an ``nn.Module`` or ``torch.optim.Optimizer`` is hashed as
    its ``state_dict()``.

    Raises ``TypeError`` for anything else, including sparse, meta and nested
    tensors (their content is not a plain row-major buffer), and ``ValueError``
    for a container that contains itself.
    """
    hasher = _new_hasher()
    _Encoder(hasher).encode(obj)
    return f"{ALGORITHM}:{hasher.hexdigest()}"


class _Encoder:
    """Feeds the typed encoding of an object into a hasher; one instance per fingerprint."""

    def __init__(self, hasher: Any) -> None:
        self.update: Callable[[Any], None] = hasher.update
        self._active: set[int] = set()  # containers on the current path (cycle detection)

    # -- dispatch ----------------------------------------------------------------
    def encode(self, obj: Any) -> None:
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                _encode_tensor(self.update, obj)
                return
            if isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)):
                self.encode(obj.state_dict())
                return
            if isinstance(obj, (torch.dtype, torch.device)):
                text = str(obj).encode("utf-8")
                self.update(_T_TORCH_META + _u64(len(text)) + text)
                return
        if obj is None:
            self.update(_T_NONE)
        elif isinstance(obj, bool):
            self.update(_T_BOOL + (b"\x01" if obj else b"\x00"))
        elif isinstance(obj, int):
            self._encode_int(obj)
        elif isinstance(obj, float):
            self.update(_T_FLOAT + _F64.pack(obj))
        elif isinstance(obj, complex):
            self.update(_T_COMPLEX + _C128.pack(obj.real, obj.imag))
        elif isinstance(obj, str):
            data = obj.encode("utf-8", "surrogatepass")
            self.update(_T_STR + _u64(len(data)) + data)
        elif isinstance(obj, (bytes, bytearray)):
            self.update(_T_BYTES + _u64(len(obj)))
            self.update(obj)
        elif isinstance(obj, (list, tuple, dict, set, frozenset)):
            self._encode_container(obj)
        else:
            np = sys.modules.get("numpy")
            if np is not None and isinstance(obj, (np.ndarray, np.generic)):
                _encode_array(self.update, np.asarray(obj))
                return
            raise TypeError(
                f"fingerprint() cannot hash a {type(obj).__module__}.{type(obj).__qualname__}; "
                "expected a tensor, NumPy array, Python scalar, str, bytes, None, a "
                "list/tuple/dict/set of these, an nn.Module or an optimizer. Convert the "
                "object to one of these (for example its state_dict()) first."
            )

    def _encode_int(self, value: int) -> None:
        magnitude = abs(value)
        data = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little")
        self.update(_T_INT + (b"-" if value < 0 else b"+") + _u64(len(data)) + data)

    def _encode_container(self, obj: Any) -> None:
        key = id(obj)
        if key in self._active:
            raise ValueError(
                f"fingerprint() received a {type(obj).__name__} that contains itself; "
                "a self-referencing structure has no finite content to hash"
            )
        self._active.add(key)
        try:
            if isinstance(obj, dict):
                # Canonical order: by each key's own fingerprint, which works for keys
                # of mixed, mutually unorderable types and ignores insertion order.
                items = sorted((_digest(k), v) for k, v in obj.items())
                self.update(_T_DICT + _u64(len(items)))
                for kd, v in items:
                    self.update(kd)
                    self.encode(v)
            elif isinstance(obj, (set, frozenset)):
                digests = sorted(_digest(v) for v in obj)
                self.update(_T_SET + _u64(len(digests)))
                for d in digests:
                    self.update(d)
            else:
                self.update((_T_LIST if isinstance(obj, list) else _T_TUPLE) + _u64(len(obj)))
                for v in obj:
                    self.encode(v)
        finally:
            self._active.discard(key)


def _new_hasher() -> Any:
    # Imported on first use: `import reprotorch` (and the stdlib-only linter) must
    # keep working in an environment whose xxhash is missing or broken.
    try:
        import xxhash
    except ImportError as exc:
        raise ImportError(
            f"reprotorch.fingerprint() needs the xxhash package ({exc}); install it with "
            "'pip install xxhash'"
        ) from exc
    return xxhash.xxh3_128()


def _digest(obj: Any) -> bytes:
    """The raw 16-byte digest of ``obj`` (used to order dict keys and set members)."""
    hasher = _new_hasher()
    _Encoder(hasher).encode(obj)
    return hasher.digest()


# --------------------------------------------------------------------------- tensors


def _check_tensor(t: Any) -> None:
    import torch

    if t.is_nested:
        raise TypeError(
            "fingerprint() cannot hash a nested tensor: it has no single row-major buffer; "
            "hash its components instead (tensor.unbind())"
        )
    if t.layout != torch.strided:
        raise TypeError(
            f"fingerprint() cannot hash a tensor with layout {t.layout} (sparse or other "
            "non-strided layout); convert it with .to_dense() first"
        )
    if t.device.type == "meta":
        raise TypeError(
            "fingerprint() cannot hash a meta tensor: it has a shape but no data; "
            "materialise it on a real device first"
        )


def _header(t: Any, mode: bytes) -> bytes:
    dtype = str(t.dtype).encode("ascii")
    shape = b"".join(_u64(int(s)) for s in t.shape)
    return _T_TENSOR + _u64(len(dtype)) + dtype + _u64(t.dim()) + shape + mode


def _plain(t: Any) -> Any:
    """``t`` detached, with lazy conjugate/negative bits applied and in row-major order."""
    t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    if not t.is_contiguous():
        t = t.contiguous()
    return t


def _host_bytes(t: Any) -> memoryview:
    """A zero-copy byte view of a contiguous CPU tensor (any dtype, including those NumPy lacks)."""
    import torch

    flat = t.reshape(-1)
    if flat.dtype != torch.uint8:
        flat = flat.view(torch.uint8)
    try:
        return memoryview(flat.numpy())
    except (RuntimeError, TypeError) as exc:  # tensor subclasses without real storage
        raise TypeError(
            f"fingerprint() cannot read the data of this {type(t).__name__}: {exc}"
        ) from None


def _encode_tensor(update: Callable[[Any], None], t: Any) -> None:
    _check_tensor(t)
    if t.is_quantized:
        _encode_quantized(update, t)
        return
    t = _plain(t)
    if t.device.type == "cpu":
        update(_header(t, _MODE_HOST_BYTES))
        update(_host_bytes(t))
    else:
        update(_header(t, _MODE_DEVICE_DIGEST))
        update(_device_digest(t))


def _encode_quantized(update: Callable[[Any], None], t: Any) -> None:
    import torch

    scheme = t.qscheme()
    update(_header(t, _MODE_QUANTIZED) + str(scheme).encode("ascii"))
    enc = _Encoder(_new_hasher())
    enc.update = update
    if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        enc.encode((float(t.q_scale()), int(t.q_zero_point())))
    elif scheme in (torch.per_channel_affine, torch.per_channel_symmetric,
                    torch.per_channel_affine_float_qparams):
        enc.encode((t.q_per_channel_scales(), t.q_per_channel_zero_points(),
                    int(t.q_per_channel_axis())))
    else:  # pragma: no cover - no other schemes exist today
        raise TypeError(f"fingerprint() does not know the quantisation scheme {scheme}")
    enc.encode(t.int_repr())


# --- the on-device digest ---------------------------------------------------------


def _signed(u: int) -> int:
    return u - (1 << 64) if u >= (1 << 63) else u


# splitmix64's finaliser (Steele, Lea & Flood 2014): xorshift and odd multiplies,
# each a bijection of 64-bit words, so the whole mix is one.
_MIX_M1 = _signed(0xBF58476D1CE4E5B9)
_MIX_M2 = _signed(0x94D049BB133111EB)
_POS_STEP = _signed(0x9E3779B97F4A7C15)  # golden-ratio increment: distinct per position
_LANE_KEYS = (_signed(0x243F6A8885A308D3), _signed(0x13198A2E03707344))  # digits of pi
_DEVICE_CHUNK_BYTES = 1 << 27  # bounds the temporaries to a few x 128 MiB on the device


def _lsr(x: Any, k: int) -> Any:
    """Logical right shift of an int64 tensor (torch's ``>>`` is arithmetic)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def _mix_(x: Any) -> Any:
    """In-place splitmix64 finaliser on an int64 tensor; wraps modulo 2**64."""
    x ^= _lsr(x, 30)
    x *= _MIX_M1
    x ^= _lsr(x, 27)
    x *= _MIX_M2
    x ^= _lsr(x, 31)
    return x


def _device_digest(t: Any, chunk_bytes: int = _DEVICE_CHUNK_BYTES) -> bytes:
    """A 16-byte digest of a contiguous tensor's bytes computed where the tensor lives.

    The bytes are read as 64-bit, 32-bit or 8-bit words (the widest that divides
    the byte count, a function of dtype and shape only). For each of two lanes,
    word ``w`` at position ``i`` becomes ``mix(w + key + i * STEP)`` and the lane
    is the wrapping int64 sum of those. Wrapping integer sums are exact, so the
    result is the same whatever order the device reduces in, and for any chunk
    size; a single changed word changes each lane because ``mix`` is a bijection.
    The work is chunked so temporaries stay bounded; only 16 bytes reach the host.
    """
    import torch

    flat = t.reshape(-1)
    if flat.dtype != torch.uint8:
        flat = flat.view(torch.uint8)
    nbytes = flat.numel()
    width = 8 if nbytes % 8 == 0 else 4 if nbytes % 4 == 0 else 1
    step = max(width, chunk_bytes - chunk_bytes % width)
    totals = [torch.zeros((), dtype=torch.int64, device=t.device) for _ in _LANE_KEYS]
    for start in range(0, nbytes, step):
        part = flat[start : start + step]
        if width == 8:
            try:
                words = part.view(torch.int64)
            except RuntimeError:  # storage offset not 8-byte aligned
                words = part.clone().view(torch.int64)
        elif width == 4:
            try:
                words32 = part.view(torch.int32)
            except RuntimeError:
                words32 = part.clone().view(torch.int32)
            words = words32.to(torch.int64) & 0xFFFFFFFF
        else:
            words = part.to(torch.int64)
        first = start // width
        positions = torch.arange(first, first + words.numel(), dtype=torch.int64, device=t.device)
        positions *= _POS_STEP
        positions += words
        for lane, key in enumerate(_LANE_KEYS):
            x = positions + key
            totals[lane] += _mix_(x).sum()
    host = torch.stack(totals).cpu()
    return bytes([width]) + host.numpy().astype("<i8").tobytes()


# --------------------------------------------------------------------------- arrays


def _encode_array(update: Callable[[Any], None], arr: Any) -> None:
    import numpy as np

    if arr.dtype.hasobject:
        raise TypeError(
            "fingerprint() cannot hash a NumPy array of dtype object: its bytes are "
            "pointers, not content; convert it to a numeric dtype or a list first"
        )
    dtype = arr.dtype
    if dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big"):
        dtype = dtype.newbyteorder("<")
        arr = arr.astype(dtype)
    arr = np.ascontiguousarray(arr)
    descr = str(dtype.descr if dtype.fields else dtype.str).encode("utf-8")
    shape = b"".join(_u64(int(s)) for s in arr.shape)
    update(_T_ARRAY + _u64(len(descr)) + descr + _u64(arr.ndim) + shape)
    update(memoryview(arr.reshape(-1).view(np.uint8)))


# --------------------------------------------------------------------------- summaries


def _finite_or_text(x: float) -> float | str:
    """Floats for JSON: non-finite values become the strings "nan", "inf", "-inf"."""
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


# Dtypes whose CPU summaries NumPy computes. NumPy reduces on the calling thread
# (torch would wake its intra-op pool for each small reduction, which costs more
# than the work on a busy machine) and sums float32 in float64 buffer by buffer,
# without a full-size float64 copy.
_NUMPY_SUMMARY_DTYPES = {
    "torch.float16", "torch.float32", "torch.float64", "torch.int8", "torch.int16",
    "torch.int32", "torch.int64", "torch.uint8", "torch.bool",
}


def _summary_values(t: Any) -> tuple[float, float, float]:
    """``(float64 sum, min, max)`` of a detached, conjugation-free real tensor."""
    import torch

    if t.device.type == "cpu" and str(t.dtype) in _NUMPY_SUMMARY_DTYPES:
        import numpy as np

        arr = t.numpy() if t.is_contiguous() else t.contiguous().numpy()
        if arr.dtype == np.bool_:
            arr = arr.view(np.uint8)
        # min/max propagate NaN, as torch.aminmax does
        return float(arr.sum(dtype=np.float64)), float(arr.min()), float(arr.max())
    total = t.sum(dtype=torch.float64)
    try:
        lo, hi = torch.aminmax(t)
    except (RuntimeError, NotImplementedError):
        lo, hi = torch.aminmax(t.to(torch.float64))
    s, lo_v, hi_v = torch.stack([total, lo.to(torch.float64), hi.to(torch.float64)]).tolist()
    return s, lo_v, hi_v


def tensor_summary(t: Any) -> dict[str, float | str | None]:
    """Cheap float64 summaries of a tensor's values: ``{"sum": ..., "maxabs": ...}``.

    They give a divergence a magnitude (two fingerprints only say *that* two
    tensors differ). The sum is accumulated in float64; complex tensors are
    summarised over their real and imaginary components. Non-finite results are
    the strings ``"nan"``/``"inf"``/``"-inf"`` (JSON has no NaN); dtypes with no
    arithmetic (packed float4, bits) give ``None``.
    """
    import torch

    t = t.detach()
    if t.is_neg():
        t = t.resolve_neg()
    if t.is_quantized:
        t = t.dequantize()
    if t.is_complex():
        t = t.resolve_conj()
        if t.dtype == torch.complex32:
            t = t.to(torch.complex64)
        t = torch.view_as_real(t)
    if t.numel() == 0:
        return {"sum": 0.0, "maxabs": 0.0}
    try:
        s, lo_v, hi_v = _summary_values(t)
    except (RuntimeError, NotImplementedError, TypeError):
        return {"sum": None, "maxabs": None}
    maxabs = max(abs(lo_v), abs(hi_v)) if not (math.isnan(lo_v) or math.isnan(hi_v)) else math.nan
    return {"sum": _finite_or_text(s), "maxabs": _finite_or_text(maxabs)}
