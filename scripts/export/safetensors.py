"""A small safetensors reader and writer (no `safetensors` package on Debian 12).

File layout: 8-byte little-endian header length N, N bytes of JSON header
{name: {"dtype": "F32"|"F16"|"BF16"|..., "shape": [...], "data_offsets": [begin, end]},
"__metadata__": {...}}, then the raw little-endian tensor data (offsets relative to the
end of the header). A model may be split over several files listed by
model.safetensors.index.json ({"weight_map": {name: file}}).

Reading is memory-mapped tensor by tensor (numpy.memmap of just that tensor's bytes,
released after use), so a caller that copies each tensor into its destination holds
about one copy of the weights in memory.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import numpy as np

# dtype name -> (numpy dtype of the raw storage, torch dtype name, bytes per element);
# torch is imported only to load or write tensors, so header checks run without it.
DTYPES = {
    "F32": (np.float32, "float32", 4),
    "F16": (np.float16, "float16", 2),
    "BF16": (np.int16, "bfloat16", 2),  # raw bits, viewed as bfloat16
    "F64": (np.float64, "float64", 8),
    "I64": (np.int64, "int64", 8),
    "I32": (np.int32, "int32", 4),
    "I16": (np.int16, "int16", 2),
    "I8": (np.int8, "int8", 1),
    "U8": (np.uint8, "uint8", 1),
    "BOOL": (np.bool_, "bool", 1),
}
FLOAT_DTYPES = ("F32", "F16", "BF16")


class SafetensorsError(Exception):
    """A malformed or unreadable file; the message names the file and the problem."""


@dataclass
class TensorInfo:
    name: str
    file: Path
    dtype: str
    shape: Tuple[int, ...]
    offset: int  # absolute byte offset in the file
    nbytes: int


def read_header(path: Path) -> Dict[str, TensorInfo]:
    """The tensors of one file, checked against the file's size (truncation, bad offsets)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorsError(f"{path}: truncated (no header length)")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100_000_000:
                raise SafetensorsError(f"{path}: bad header (length {n} in a {size}-byte file)")
            raw = f.read(n)
    except OSError as e:
        raise SafetensorsError(f"{path}: {e.strerror or e}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"{path}: bad header ({e})") from None
    base = 8 + n
    out: Dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: bad header entry for {name}") from None
        if dtype not in DTYPES:
            raise SafetensorsError(f"{path}: {name} has unknown dtype {dtype}")
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * DTYPES[dtype][2] or begin < 0:
            raise SafetensorsError(f"{path}: {name} has data_offsets {begin}..{end} that do not fit "
                                   f"{dtype} {list(shape)}")
        if base + end > size:
            raise SafetensorsError(f"{path}: truncated ({name} ends at byte {base + end}, "
                                   f"the file has {size})")
        out[name] = TensorInfo(name, path, dtype, shape, base + begin, end - begin)
    return out


def index_directory(directory: Path) -> Dict[str, TensorInfo]:
    """Every tensor of a Hugging Face model folder: model.safetensors.index.json's shards,
    or else every *.safetensors file in it."""
    index = directory / "model.safetensors.index.json"
    if index.exists():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError, TypeError):
            raise SafetensorsError(f"{index}: not a safetensors index (no weight_map)") from None
        files = sorted(set(weight_map.values()))
    else:
        files = sorted(p.name for p in directory.glob("*.safetensors"))
        weight_map = None
    if not files:
        raise SafetensorsError(f"{directory}: no *.safetensors files")
    tensors: Dict[str, TensorInfo] = {}
    for name in files:
        path = directory / name
        if not path.exists():
            raise SafetensorsError(f"{path}: missing (listed in model.safetensors.index.json)")
        for tname, info in read_header(path).items():
            if tname in tensors:
                raise SafetensorsError(f"{path}: {tname} appears twice (also in {tensors[tname].file.name})")
            if weight_map is not None and weight_map.get(tname) != name:
                raise SafetensorsError(f"{path}: {tname} is not listed for this file in "
                                       f"model.safetensors.index.json")
            tensors[tname] = info
    if weight_map is not None:
        for tname, name in weight_map.items():
            if tname not in tensors:
                raise SafetensorsError(f"{directory / name}: {tname} is listed in the index but absent")
    return tensors


def load_tensor(info: TensorInfo):
    """The tensor as a CPU torch tensor backed by a memory map of just its bytes (read-only:
    copy it; drop it to unmap)."""
    import torch
    np_dtype, torch_name, _ = DTYPES[info.dtype]
    if info.nbytes == 0:
        return torch.empty(info.shape, dtype=getattr(torch, torch_name))
    arr = np.memmap(info.file, dtype=np_dtype, mode="r", offset=info.offset, shape=info.shape or (1,))
    import warnings
    with warnings.catch_warnings():  # read-only memmap: torch warns about non-writable arrays
        warnings.simplefilter("ignore")
        t = torch.from_numpy(arr)
    if info.dtype == "BF16":
        t = t.view(torch.bfloat16)
    return t.reshape(info.shape)


def copy_into(info: TensorInfo, dest, chunk_bytes: int = 64 << 20) -> None:
    """Copy the tensor into `dest` (a torch tensor of its shape, any floating dtype) in
    slices of the first dimension of about `chunk_bytes`, each from its own memory map
    released after use: the source adds at most one slice to the resident memory."""
    if len(info.shape) < 1 or info.nbytes <= chunk_bytes:
        src = load_tensor(info)
        dest.copy_(src)
        return
    rows = info.shape[0]
    row_bytes = info.nbytes // rows
    step = max(1, chunk_bytes // max(1, row_bytes))
    for start in range(0, rows, step):
        n = min(step, rows - start)
        part = TensorInfo(info.name, info.file, info.dtype, (n,) + tuple(info.shape[1:]),
                          info.offset + start * row_bytes, n * row_bytes)
        src = load_tensor(part)
        dest[start:start + n].copy_(src)
        del src


def write_file(path: Path, tensors: Dict, metadata: Dict[str, str] = None) -> None:
    """Write torch tensors (F32/F16/BF16 and the integer types) as one safetensors file."""
    import torch
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs: List[bytes] = []
    offset = 0
    rev = {getattr(torch, v[1]): k for k, v in DTYPES.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": rev[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def write_directory(directory: Path, tensors: Dict, shards: int = 1) -> None:
    """A Hugging Face-style folder: model.safetensors, or `shards` files
    model-0000i-of-0000n.safetensors with model.safetensors.index.json."""
    directory.mkdir(parents=True, exist_ok=True)
    if shards <= 1:
        write_file(directory / "model.safetensors", tensors, {"format": "pt"})
        return
    names = list(tensors)
    per = -(-len(names) // shards)
    weight_map = {}
    for i in range(shards):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[i * per:(i + 1) * per]}
        write_file(directory / fname, part, {"format": "pt"})
        weight_map.update({n: fname for n in part})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))


def write_file_streaming(path: Path, entries: List[Tuple[str, Tuple[int, ...], str]], make) -> None:
    """Write one safetensors file whose tensors are made one at a time: `entries` are
    (name, shape, dtype name F32/F16/BF16), `make(name, shape)` returns a torch tensor of
    that shape (cast to the dtype here). Memory: one tensor at a time."""
    import torch
    header: Dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, dtype in entries:
        n = int(np.prod(shape)) * DTYPES[dtype][2]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape, dtype in entries:
            t = make(name, shape).to(getattr(torch, DTYPES[dtype][1])).contiguous()
            if t.dtype == torch.bfloat16:
                t = t.view(torch.int16)
            f.write(t.numpy().tobytes())
            del t
    os.replace(tmp, path)
