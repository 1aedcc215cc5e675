"""Files a user brings, mutated at random: every reader either loads them correctly or refuses
them with a DataError naming the file; no other exception, no hang, no partial dataset, and
no allocation larger than the data limit before the size is known (hypothesis drives the
mutations; each example runs under an alarm)."""

from __future__ import annotations

import gzip
import io
import signal
import struct
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from genzoo import DataError, load_dataset

from .conftest import run_cli

EXAMPLES = 150  # mutated files per format and strategy (the closing note counts them)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the alarm below bounds each example instead
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # CI sees the same examples every run
)
LIMIT = 8 << 20  # GENZOO_MAX_DATA_BYTES for these tests: 8 MiB


@pytest.fixture(autouse=True)
def small_data_limit(monkeypatch):
    monkeypatch.setenv("GENZOO_MAX_DATA_BYTES", str(LIMIT))


@contextmanager
def alarm(seconds: int = 10):
    def fail(signum, frame):
        raise AssertionError(f"a loader ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def outcome(path: Path) -> str:
    """Load `path`: 'loaded' (and then the dataset is whole and sane) or 'refused' (with a
    DataError naming the file); anything else fails the test."""
    with alarm():
        try:
            ds = load_dataset(str(path))
        except DataError as e:
            assert path.name in str(e), f"the message does not name the file: {e}"
            return "refused"
    n = len(ds.x_train) + len(ds.x_test)
    assert n >= 2 and np.isfinite(np.asarray(ds.x_train, dtype=np.float64)).all()
    if ds.y_train is not None:
        assert len(ds.y_train) == len(ds.x_train) and len(ds.y_test) == len(ds.x_test)
        assert ds.y_train.min() >= 0 and ds.y_train.max() < len(ds.classes)
    return "loaded"


def mutate(data: bytes, edits: list[tuple[int, int, int]], cut: int | None) -> bytes:
    """Overwrite, insert or delete bytes at positions (as fractions of the length), then
    maybe truncate."""
    out = bytearray(data)
    for kind, where, value in edits:
        if not out:
            break
        i = where % len(out)
        if kind == 0:
            out[i] = value
        elif kind == 1:
            out.insert(i, value)
        else:
            del out[i]
    if cut is not None:
        out = out[: cut % (len(out) + 1)]
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8
)
CUT = st.one_of(st.none(), st.integers(0, 1 << 20))


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IMAGES = np.random.default_rng(0).integers(0, 256, size=(60, 6, 6), dtype=np.uint8)
LABELS = (np.arange(60) % 3).astype(np.uint8)  # 20 of each class: enough to split


# ---------------------------------------------------------------- IDX
@SETTINGS
@given(edits=EDITS, cut=CUT, gz=st.booleans())
def test_mutated_idx_files_load_or_are_refused(tmp_path_factory, edits, cut, gz):
    d = tmp_path_factory.mktemp("idx")
    images = mutate(idx_bytes(IMAGES), edits, cut)
    labels = idx_bytes(LABELS)
    (d / "t-images-idx3-ubyte").write_bytes(gzip.compress(images) if gz else images)
    (d / "t-labels-idx1-ubyte").write_bytes(labels)
    outcome(d / "t-images-idx3-ubyte")


@SETTINGS
@given(
    dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
    type_code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
    body=st.binary(max_size=256),
)
def test_forged_idx_headers_are_refused_before_any_large_allocation(
    tmp_path_factory, dims, type_code, body
):
    path = tmp_path_factory.mktemp("idx") / "forged-idx3-ubyte"
    path.write_bytes(
        bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body
    )
    outcome(path)  # a header claiming terabytes is refused by its size, not by a MemoryError


def test_an_idx_gzip_bomb_is_refused_by_its_header(tmp_path):
    # 64 MiB of zeros behind a header that says so: gzip makes it 64 KiB on disk
    n = 64 << 20
    raw = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", n // 1024, 32, 32) + bytes(n)
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw, compresslevel=1))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DataError, match="GENZOO_MAX_DATA_BYTES"):
        load_dataset(str(path))


def test_wrong_label_counts_are_refused(tmp_path):
    (tmp_path / "t-images-idx3-ubyte").write_bytes(idx_bytes(IMAGES))
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(idx_bytes(LABELS[:-1]))
    with pytest.raises(DataError, match="59 labels for 60 examples"):
        load_dataset(str(tmp_path / "t-images-idx3-ubyte"))


# ---------------------------------------------------------------- .npy and .npz
def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def npz_bytes(compress: bool = False, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


ARRAYS = st.sampled_from(
    [
        IMAGES.astype(np.float32) / 255,
        IMAGES[:12],
        np.random.default_rng(1).normal(size=(20, 2)),
        np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 3.0]]),
        np.array([[1.0, np.inf], [0.0, 1.0], [2.0, 3.0]]),
        np.array([None, 1, "x"], dtype=object),
        np.zeros((0, 4)),
        np.arange(12, dtype=np.complex64).reshape(6, 2),
    ]
)


@SETTINGS
@given(array=ARRAYS, edits=EDITS, cut=CUT)
# a NUL in the header: numpy's tokenizer fallback raises tokenize.TokenError
@example(array=np.arange(12, dtype=np.complex64).reshape(6, 2), edits=[(0, 7012, 0)], cut=None)
def test_mutated_npy_files_load_or_are_refused(tmp_path_factory, array, edits, cut):
    path = tmp_path_factory.mktemp("npy") / "data.npy"
    path.write_bytes(mutate(npy_bytes(array), edits, cut))
    outcome(path)


@SETTINGS
@given(
    x=ARRAYS,
    y=st.sampled_from(
        [LABELS[:12], LABELS[:5], np.array(["a", "b"] * 6), np.full(12, 0.5), LABELS, None]
    ),
    compress=st.booleans(),
    edits=EDITS,
    cut=CUT,
)
def test_mutated_npz_archives_load_or_are_refused(tmp_path_factory, x, y, compress, edits, cut):
    arrays = {"x": x} if y is None else {"x": x, "y": y}
    path = tmp_path_factory.mktemp("npz") / "data.npz"
    path.write_bytes(mutate(npz_bytes(compress, **arrays), edits, cut))
    outcome(path)


@SETTINGS
@given(shape=st.lists(st.integers(0, 2**40), min_size=1, max_size=4), compress=st.booleans())
def test_forged_npy_shapes_are_refused_before_any_large_allocation(
    tmp_path_factory, shape, compress
):
    d = tmp_path_factory.mktemp("forged")
    small = npy_bytes(np.zeros(4, dtype=np.float64))
    header_end = small.index(b"\n") + 1
    forged = small.replace(b"(4,)", repr(tuple(shape)).encode().ljust(4))
    forged = forged[:header_end] if len(forged) < header_end else forged
    (d / "data.npy").write_bytes(forged)
    outcome(d / "data.npy")
    with zipfile.ZipFile(d / "data.npz", "w", zipfile.ZIP_DEFLATED if compress else 0) as z:
        z.writestr("x.npy", forged)
    outcome(d / "data.npz")


def test_an_npz_zip_bomb_is_refused_by_its_header(tmp_path):
    path = tmp_path / "bomb.npz"
    path.write_bytes(npz_bytes(True, x=np.zeros((4096, 64, 64), dtype=np.float32)))  # 64 MiB
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DataError, match="GENZOO_MAX_DATA_BYTES"):
        load_dataset(str(path))


def test_object_arrays_are_refused_and_never_unpickled(tmp_path):
    ran = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (ran,))

    np.save(tmp_path / "evil.npy", np.array([Payload(), 1], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "evil.npz", x=np.array([Payload(), 1], dtype=object))
    for name in ("evil.npy", "evil.npz"):
        with pytest.raises(DataError, match="object array"):
            load_dataset(str(tmp_path / name))
    assert not ran.exists()


# ---------------------------------------------------------------- images
def png_bytes(size=(6, 6), mode="L", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


@SETTINGS
@given(
    edits=EDITS,
    cut=CUT,
    mode=st.sampled_from(["L", "RGB"]),
    suffix=st.sampled_from([".png", ".jpg"]),
)
def test_mutated_images_load_or_are_refused(tmp_path_factory, edits, cut, mode, suffix):
    d = tmp_path_factory.mktemp("img")
    for c in ("a", "b"):
        (d / c).mkdir()
        for i in range(8):
            (d / c / f"{i}.png").write_bytes(png_bytes(mode=mode, seed=i))
    (d / "b" / f"bad{suffix}").write_bytes(mutate(png_bytes(mode=mode), edits, cut))
    outcome(d)  # a refusal names the image's path, inside the folder


def test_an_image_bomb_is_refused_by_its_header(tmp_path):
    # a 1-bit PNG of 12,000 x 12,000 pixels: 144 M pixels, above Pillow's warning threshold
    (tmp_path / "a").mkdir()
    Image.new("1", (12000, 12000)).save(tmp_path / "a" / "bomb.png")
    with pytest.raises(DataError, match="bomb"):
        load_dataset(str(tmp_path))


# ---------------------------------------------------------------- CSV
CSV = "f1,f2,f3\n" + "".join(f"{i * 0.1:.1f},{i % 5},{-i}\n" for i in range(30))


@SETTINGS
@given(edits=EDITS, cut=CUT)
def test_mutated_csv_files_load_or_are_refused(tmp_path_factory, edits, cut):
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_bytes(mutate(CSV.encode(), edits, cut))
    outcome(path)


@SETTINGS
@given(text=st.text(max_size=400))
def test_arbitrary_text_as_csv_loads_or_is_refused(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    outcome(path)


def test_empty_files_of_every_format_are_refused(tmp_path):
    for name in ("e-images-idx3-ubyte", "e.npy", "e.npz", "e.csv"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(DataError, match=name):
            load_dataset(str(tmp_path / name))


# ---------------------------------------------------------------- from the command line
@pytest.mark.parametrize(
    "name,content",
    [
        ("bad-idx3-ubyte", bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**31, 2**31, 2**31)),
        ("bad.npy", b"\x93NUMPY\x01\x00garbage"),
        ("bad.npz", b"PK\x03\x04" + bytes(40)),
        ("bad.csv", "a,b\n1,2\n3\n"),
    ],
)
def test_the_cli_refuses_each_in_one_line_with_exit_code_2(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    done = run_cli("train", "ae", "--data", str(path), "--out", str(tmp_path / "run"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()  # refused before any folder was made
