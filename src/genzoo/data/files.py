"""Datasets a user brings: IDX files, NumPy arrays, image folders and CSV tables.

Each reader checks what it reads and refuses bad input with a `DataError` that names the file
and what is wrong with it. Nothing is ever unpickled (`np.load(..., allow_pickle=False)`), and
Pillow's decompression-bomb guard stays on.

- IDX (as MNIST publishes it, plain or .gz): magic 0x0000TTNN (TT the element type, NN the number
  of dimensions), NN big-endian uint32 sizes, then the data big-endian. A labels file is paired by
  name (``...-images-idx3-ubyte`` -> ``...-labels-idx1-ubyte``) or given as `data.labels`.
- `.npy`: one array. `.npz`: the data under `x` (or `X`, `images`, `data`, or the only array),
  labels under `y` (or `Y`, `labels`, `targets`).
- an image folder: one sub-folder per class (sorted names are the classes), or images directly
  in the folder (no labels). All images must have one size; grayscale stays 1 channel, anything
  else becomes RGB.
- CSV: comma-separated numeric columns, an optional header row, `data.label_column` by name.

Array layout: (N, D) is a table (points when D == 2); (N, H, W), (N, C, H, W) or (N, H, W, C)
with C in {1, 3} are images.

Every reader learns the size of what it is about to hold before holding it: from an IDX or
`.npy` header, a `.npz` member's header, an image's header. Data larger than
`GENZOO_MAX_DATA_BYTES` (default: half of this machine's memory) is refused before it is
read, and a file whose header and length disagree is refused as damaged, so a forged header
or a decompression bomb costs nothing but the message.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError, GenzooError
from ..registry import FILE_FORMATS
from .dataset import DataConfig, RawData, encode_labels, image_range

IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
DATA_KEYS = ("x", "X", "images", "data")
LABEL_KEYS = ("y", "Y", "labels", "targets")


def detect_format(path: Path) -> str:
    """The registered file format of `path`, by folder, suffix, or IDX magic number."""
    if path.is_dir():
        return "folder"
    suffixes = [s.lower() for s in path.suffixes]
    name = path.name.lower()
    if suffixes[-1:] == [".npz"]:
        return "npz"
    if suffixes[-1:] == [".npy"]:
        return "npy"
    if suffixes[-1:] == [".csv"]:
        return "csv"
    if "idx" in name or suffixes[-1:] in ([".idx"], [".ubyte"]) or _looks_like_idx(path):
        return "idx"
    raise DataError(
        f"{path}: unknown file type; genzoo reads IDX (plain or .gz), .npz, .npy, .csv and "
        "image folders"
    )


def _looks_like_idx(path: Path) -> bool:
    try:
        head = _read_bytes(path, limit=4)
    except DataError:
        return False
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in IDX_TYPES


def max_data_bytes() -> int:
    """The most bytes of decoded data a loader will hold (GENZOO_MAX_DATA_BYTES; default
    half of the machine's physical memory)."""
    env = os.environ.get("GENZOO_MAX_DATA_BYTES")
    if env:
        try:
            return int(env)
        except ValueError:
            raise DataError(f"GENZOO_MAX_DATA_BYTES={env!r}: expected a number of bytes") from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def check_in_memory(option: str, n: int, shape, what: str, copies: int = 2) -> None:
    """Refuse to hold n float32 examples of `shape` (`copies` of them at the peak) above the
    same limit the loaders keep: such a request is refused, never attempted."""
    need = copies * n * math.prod(int(d) for d in shape) * 4
    limit = max_data_bytes()
    if need > limit:
        raise GenzooError(
            f"{option} {n}: {n:,} {what} of shape {'x'.join(map(str, shape))} would take about "
            f"{need:,} bytes of memory, more than the {limit:,} allowed (GENZOO_MAX_DATA_BYTES); "
            "ask for fewer"
        )


def _check_size(path, shape, itemsize: int, what: str = "data") -> int:
    """The bytes `shape` of `itemsize` takes; refused above the limit, before any is read."""
    need = math.prod(int(d) for d in shape) * itemsize
    limit = max_data_bytes()
    if need > limit:
        raise DataError(
            f"{path}: {what} of shape {'x'.join(map(str, shape))} would take {need:,} bytes, "
            f"more than the {limit:,} allowed (GENZOO_MAX_DATA_BYTES)"
        )
    return need


DECODE_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    try:
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rb") as f:
            return f.read() if limit is None else f.read(limit)
    except DECODE_ERRORS as e:
        raise DataError(f"{path}: could not be read ({e})") from None


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file, checking its magic number, dimensions and byte length. Only the
    header is read before the size is known; then exactly that many bytes (one more, to
    notice a longer file), so a forged header or a gzip bomb is refused cheaply."""
    try:
        gz = _is_gzip(path)
        with (gzip.open if gz else open)(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise DataError(
                    f"{path}: truncated IDX file ({len(magic)} bytes, no complete header)"
                )
            if magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
                raise DataError(
                    f"{path}: bad IDX magic number 0x{int.from_bytes(magic, 'big'):08x}; "
                    "expected 0x0000TTNN with TT a type code (08 for uint8) and NN the number "
                    "of dimensions, e.g. 0x00000803 for images or 0x00000801 for labels"
                )
            ndim = magic[3]
            sizes = f.read(4 * ndim)
            if ndim == 0 or len(sizes) < 4 * ndim:
                raise DataError(
                    f"{path}: truncated IDX header ({ndim} dimensions, {4 + len(sizes)} bytes)"
                )
            dims = struct.unpack(f">{ndim}I", sizes)
            dtype = np.dtype(IDX_TYPES[magic[2]])
            need = _check_size(path, dims, dtype.itemsize)
            if not gz:  # the length is known without reading
                have = path.stat().st_size - 4 - 4 * ndim
                if have != need:
                    _idx_length_error(path, dims, need, have)
            data = f.read(need + 1)
    except DECODE_ERRORS as e:
        raise DataError(f"{path}: could not be read ({e})") from None
    if len(data) != need:
        _idx_length_error(path, dims, need, len(data) if len(data) < need else "more")
    return np.frombuffer(data, dtype=dtype).reshape(dims)


def _idx_length_error(path: Path, dims, need: int, have) -> None:
    longer = have == "more" or have > need
    state = "longer than its header says" if longer else "truncated"
    held = "more" if have == "more" else str(have)
    raise DataError(
        f"{path}: {state}: dimensions {'x'.join(map(str, dims))} need {need} "
        f"bytes of data, the file holds {held}"
    )


def _paired_labels(path: Path) -> Path | None:
    name = path.name
    for a, b in (("images", "labels"), ("image", "label")):
        if a in name:
            candidate = name.replace(a, b).replace("idx3", "idx1").replace("idx4", "idx1")
            for alt in (candidate, candidate + ".gz", candidate.removesuffix(".gz")):
                if (path.parent / alt).is_file():
                    return path.parent / alt
    return None


@FILE_FORMATS.register("idx", "IDX files as MNIST publishes them (plain or .gz), labels paired")
def load_idx(path: Path, cfg: DataConfig) -> RawData:
    x = read_idx(path)
    if x.ndim < 2:
        raise DataError(
            f"{path}: an IDX file of {x.ndim} dimension holds labels, not examples; "
            "pass the images file"
        )
    labels_path = Path(cfg.labels) if cfg.labels else _paired_labels(path)
    y = classes = None
    if labels_path is not None:
        if not labels_path.is_file():
            raise DataError(f"{labels_path}: labels file does not exist")
        labels = read_idx(labels_path)
        if labels.ndim != 1:
            raise DataError(
                f"{labels_path}: a labels file has 1 dimension, this one has {labels.ndim}"
            )
        if len(labels) != len(x):
            raise DataError(
                f"{labels_path}: {len(labels)} labels for {len(x)} examples in {path.name}"
            )
        y, classes = encode_labels(labels, str(labels_path))
    return _from_array(x, y, classes, path)


def _npy_header(f, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, refusing object arrays and oversized data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"format version {version[0]}.{version[1]} is not one NumPy wrote")
        # 3.0 differs from 2.0 by allowing UTF-8 in field names only
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(f)
    # a broken header can fail in numpy's literal parser or in the tokenizer it falls back on
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError, *DECODE_ERRORS) as e:
        raise DataError(f"{what}: not a valid .npy array ({e})") from None
    if dtype.hasobject:
        raise DataError(
            f"{what} is an object array; genzoo loads numeric arrays only and never unpickles"
        )
    return shape, dtype


def _check_npy(f, total: int, what: str, path: Path, label: str = "data") -> None:
    """Read a .npy header from `f` (a file or an archive member of `total` bytes) and check
    the data it declares: under the size limit, and exactly the bytes that follow it."""
    shape, dtype = _npy_header(f, what)
    need = _check_size(path, shape, dtype.itemsize, label)
    have = total - f.tell()
    if have != need:
        raise DataError(
            f"{what}: {'truncated' if have < need else 'longer than its header says'}: an "
            f"array of shape {shape} and type {dtype} needs {need} bytes, {have} follow its header"
        )


def _read_numpy(read, what: str) -> np.ndarray:
    """Run `read()`, turning NumPy's refusals (pickled objects, damage) into DataErrors."""
    try:
        return read()
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(
                f"{what} is an object array; genzoo loads numeric arrays only and never unpickles"
            ) from None
        raise DataError(f"{what} could not be read ({e})") from None
    except (*DECODE_ERRORS, zipfile.BadZipFile, MemoryError) as e:
        raise DataError(f"{what} could not be read ({type(e).__name__}: {e})") from None


@FILE_FORMATS.register("npy", "a NumPy .npy array (no labels), loaded without pickle")
def load_npy(path: Path, cfg: DataConfig) -> RawData:
    try:
        with path.open("rb") as f:
            _check_npy(f, path.stat().st_size, str(path), path)
    except DECODE_ERRORS as e:
        raise DataError(f"{path}: could not be read ({e})") from None
    x = _read_numpy(lambda: np.load(path, allow_pickle=False), str(path))
    return _from_array(x, None, None, path)


@FILE_FORMATS.register(
    "npz", "a NumPy .npz archive: x (and optional y) arrays, loaded without pickle"
)
def load_npz(path: Path, cfg: DataConfig) -> RawData:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, *DECODE_ERRORS) as e:
        raise DataError(f"{path}: not a valid .npz archive ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy under another name
        raise DataError(f"{path}: not a .npz archive (a single array; name it .npy)")
    with archive:
        keys = list(archive.files)
        x_key = next((k for k in DATA_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
        if x_key is None:
            raise DataError(
                f"{path}: no data array; expected one of the keys "
                f"{', '.join(DATA_KEYS)} (found: {', '.join(keys) or 'none'})"
            )
        y_key = next((k for k in LABEL_KEYS if k in keys), None)
        x = _npz_array(archive, x_key, path)
        y = classes = None
        if y_key is not None:
            labels = _npz_array(archive, y_key, path)
            if labels.ndim != 1 or len(labels) != len(x):
                raise DataError(
                    f"{path}: labels {y_key!r} have shape {labels.shape}, expected "
                    f"({len(x)},) to match {x_key!r}"
                )
            y, classes = encode_labels(labels, f"{path} [{y_key}]")
    return _from_array(x, y, classes, path)


def _npz_array(archive, key: str, path: Path) -> np.ndarray:
    """One member, its header checked first: its declared size against the limit and
    against the member's own length in the archive."""
    what = f"{path}: array {key!r}"
    try:
        names = archive.zip.namelist()
        member = archive.zip.getinfo(f"{key}.npy" if f"{key}.npy" in names else key)
        with archive.zip.open(member) as f:
            _check_npy(f, member.file_size, what, path, f"array {key!r}")
    except (KeyError, zipfile.BadZipFile, *DECODE_ERRORS) as e:
        raise DataError(f"{what} could not be read ({e})") from None
    return _read_numpy(lambda: archive[key], what)


def _from_array(x: np.ndarray, y, classes, path: Path) -> RawData:
    """Validate a numeric array and decide its kind from its layout."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: data must be numeric, found dtype {x.dtype}")
    if x.ndim == 0:
        raise DataError(
            f"{path}: holds a single number (a 0-d array), not examples; expected (N, features) "
            "or images (N, H, W), (N, C, H, W), (N, H, W, C)"
        )
    if x.ndim == 1:
        raise DataError(
            f"{path}: a 1-d array of shape {x.shape}; for {len(x)} examples of one feature save "
            "it as (N, 1), e.g. np.save(path, x[:, None])"
        )
    if len(x) < 2:
        raise DataError(f"{path}: holds {len(x)} example(s); a dataset needs at least 2")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"{path}: holds {int(np.sum(~np.isfinite(x)))} NaN or infinite values "
            f"(first at index {tuple(int(i) for i in bad)})"
        )
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
    if x.ndim == 2:
        kind = "points" if x.shape[1] == 2 else "table"
        return RawData(x, y, kind, (float(x.min()), float(x.max())), classes)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NHWC -> NCHW
        elif x.shape[1] not in (1, 3):
            raise DataError(
                f"{path}: 4-D array of shape {x.shape} is not an image batch; "
                "expected (N, C, H, W) or (N, H, W, C) with C = 1 or 3"
            )
    else:
        raise DataError(
            f"{path}: array of shape {x.shape}; expected (N, features) or images "
            "(N, H, W), (N, C, H, W), (N, H, W, C)"
        )
    return RawData(x, y, "image", image_range(x), classes)


@FILE_FORMATS.register("folder", "a folder of images, one sub-folder per class (or none)")
def load_folder(path: Path, cfg: DataConfig) -> RawData:
    from PIL import Image, UnidentifiedImageError

    def images_in(d: Path) -> list[Path]:
        return sorted(
            p
            for p in d.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )

    class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    groups = [(d.name, images_in(d)) for d in class_dirs]
    groups = [(name, files) for name, files in groups if files]
    labelled = bool(groups)
    if not labelled:
        groups = [("", images_in(path))]
    files = [(label, f) for label, (_, fs) in enumerate(groups) for f in fs]
    if not files:
        raise DataError(
            f"{path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))} "
            "in the folder and its sub-folders)"
        )
    pictures = []
    held, limit = 0, max_data_bytes()
    for _, f in files:
        try:
            with warnings.catch_warnings():  # Pillow only warns below twice its pixel limit
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    held += im.size[0] * im.size[1] * 4  # decoded, at most 4 bytes a pixel
                    if held > limit:
                        raise DataError(
                            f"{f}: the images up to this one would take more than the "
                            f"{limit:,} bytes allowed (GENZOO_MAX_DATA_BYTES)"
                        )
                    im.load()
                    pictures.append(im.copy())
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise DataError(f"{f}: refused as a decompression bomb ({e})") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, zlib.error) as e:
            raise DataError(f"{f}: not a readable image ({e})") from None
    size = pictures[0].size
    for (_, f), im in zip(files, pictures, strict=True):
        if im.size != size:
            raise DataError(
                f"{f}: image is {im.size[0]}x{im.size[1]}, but {files[0][1].name} is "
                f"{size[0]}x{size[1]}; all images must have one size"
            )
    gray = all(im.mode in ("1", "L", "LA", "I", "I;16", "P") and _is_gray(im) for im in pictures)
    mode = "L" if gray else "RGB"
    arrays = [np.asarray(_to_8bit(im).convert(mode), dtype=np.uint8) for im in pictures]
    x = np.stack(arrays)
    x = x[:, None] if gray else x.transpose(0, 3, 1, 2)
    y = np.array([label for label, _ in files], dtype=np.int64) if labelled else None
    classes = [name for name, _ in groups] if labelled else None
    names = [str(f.relative_to(path)) for _, f in files]
    return RawData(np.ascontiguousarray(x), y, "image", (0.0, 255.0), classes, names=names)


def _is_gray(im) -> bool:
    if im.mode != "P":
        return True
    palette = np.asarray(im.convert("RGB"))
    return bool(
        np.all(palette[..., 0] == palette[..., 1]) and np.all(palette[..., 1] == palette[..., 2])
    )


def _to_8bit(im):
    if im.mode in ("I", "I;16"):
        a = np.asarray(im, dtype=np.float64)
        from PIL import Image

        return Image.fromarray((a / max(a.max(), 1) * 255).astype(np.uint8))
    return im


@FILE_FORMATS.register("csv", "a CSV of numeric columns, optional header, optional label column")
def load_csv(path: Path, cfg: DataConfig) -> RawData:
    try:
        with path.open(newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: could not be read as CSV ({e})") from None
    if not rows:
        raise DataError(f"{path}: is empty")
    has_header = not all(_is_number(c) for c in rows[0])
    header = [c.strip() for c in rows[0]] if has_header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if has_header else rows
    label_idx = column_index(path, header, cfg.label_column, "data.label_column")
    id_idx = column_index(path, header, cfg.id_column, "data.id_column")
    if label_idx is not None and label_idx == id_idx:
        raise DataError(f"{path}: data.label_column and data.id_column name one column")
    features = [i for i in range(len(header)) if i not in (label_idx, id_idx)]
    if not features:
        raise DataError(f"{path}: no feature columns besides the label and id columns")
    x = np.empty((len(body), len(features)), dtype=np.float64)
    labels, ids = [], []
    first = 2 if has_header else 1
    for r, row in enumerate(body):
        if len(row) != len(header):
            raise DataError(f"{path}, line {r + first}: {len(row)} columns, expected {len(header)}")
        for j, i in enumerate(features):
            try:
                x[r, j] = float(row[i])
            except ValueError:
                raise DataError(
                    f"{path}, line {r + first}, column {header[i]!r}: {row[i]!r} is not a number"
                ) from None
            if not np.isfinite(x[r, j]):
                raise DataError(
                    f"{path}, line {r + first}, column {header[i]!r}: {row[i]!r} "
                    "is not a finite number"
                )
        if label_idx is not None:
            labels.append(row[label_idx].strip())
        if id_idx is not None:
            ids.append(row[id_idx].strip())
    y = classes = None
    if label_idx is not None:
        values = np.array(labels)
        if all(_is_number(v) for v in labels):
            values = values.astype(np.float64)
        y, classes = encode_labels(values, f"{path} [{cfg.label_column}]")
    raw = _from_array(x.astype(np.float32), y, classes, path)
    raw.meta["columns"] = [header[i] for i in features]
    if id_idx is not None:
        raw.ids = ids
    return raw


def csv_header(path: Path) -> list[str] | None:
    """The column names of a CSV's header row, or None when its first row is numbers."""
    try:
        with path.open(newline="") as f:
            first = next((r for r in csv.reader(f) if r and any(c.strip() for c in r)), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: could not be read as CSV ({e})") from None
    if first is None or all(_is_number(c) for c in first):
        return None
    return [c.strip() for c in first]


def column_index(path: Path, header: list[str], name: str | None, field: str) -> int | None:
    if name is None:
        return None
    if name not in header:
        raise DataError(f"{path}: no column named {name!r} ({field}); columns: {', '.join(header)}")
    return header.index(name)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
