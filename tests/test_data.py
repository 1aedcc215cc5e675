"""Data sources: bundled and toy sets, user files, splits, value ranges, and refused inputs."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from genzoo import DataError, load_dataset
from genzoo.config import from_dict
from genzoo.data import DataConfig
from genzoo.errors import ConfigError


def write_idx(path, array: np.ndarray, type_code: int = 0x08, gz: bool = False):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def digit_images(n=40, size=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, size, size), dtype=np.uint8), np.arange(n) % 4


# ---------------------------------------------------------------- bundled and toy sets
def test_mnist5k_split_is_stratified_and_cached():
    ds = load_dataset("mnist5k")
    assert ds.kind == "image" and ds.shape == (1, 28, 28) and ds.value_range == (0.0, 255.0)
    assert len(ds.x_train) == 4000 and len(ds.x_test) == 1000
    assert np.bincount(ds.y_test).tolist() == [100] * 10  # 500 per class, 20% held out
    assert ds.x_train.max() > 200 and ds.x_train.min() == 0
    again = load_dataset("mnist5k")  # from the cache now
    np.testing.assert_array_equal(ds.x_test, again.x_test)


def test_digits_range_and_transform():
    ds = load_dataset("digits")
    assert ds.shape == (1, 8, 8) and ds.value_range == (0.0, 16.0)
    unit = ds.transform("unit").forward(ds.x_train)
    sym = ds.transform("symmetric").forward(ds.x_train)
    assert unit.min() == 0 and unit.max() == 1 and sym.min() == -1 and sym.max() == 1
    back = ds.transform("symmetric").inverse(sym)
    np.testing.assert_allclose(back, ds.x_train, atol=1e-5)


@pytest.mark.parametrize("name,modes,std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixtures_keep_ground_truth(name, modes, std):
    ds = load_dataset(name, n=4000)
    means = np.array(ds.meta["means"])
    assert means.shape == (modes, 2) and ds.meta["std"] == std and ds.num_classes == modes
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    for k in range(modes):  # each component's points sit around its mean with its std
        pts = x[y == k]
        np.testing.assert_allclose(pts.mean(0), means[k], atol=5 * std)
        np.testing.assert_allclose(pts.std(0), std, rtol=0.25)
    if name == "ring8":
        np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0)
    else:
        assert sorted(set(means[:, 0])) == [-4, -2, 0, 2, 4]


@pytest.mark.parametrize("name", ["swissroll", "moons", "circles"])
def test_toy_sets_take_size_and_noise(name):
    a = load_dataset(name, n=500, noise=0.0)
    b = load_dataset(name, n=500, noise=0.2)
    assert a.kind == "points" and len(a.x_train) + len(a.x_test) == 500
    assert not np.allclose(a.x_train, b.x_train)
    c = load_dataset(name, n=500, noise=0.2)
    np.testing.assert_array_equal(b.x_train, c.x_train)  # deterministic given the seed


def test_toy_options_refused_for_real_data():
    with pytest.raises(DataError, match="data.noise applies to the toy"):
        load_dataset("digits", noise=0.1)


def test_split_is_deterministic_and_seeded():
    a, b = load_dataset("digits"), load_dataset("digits")
    np.testing.assert_array_equal(a.x_test, b.x_test)
    c = load_dataset("digits", split_seed=1)
    assert not np.array_equal(a.x_test, c.x_test)
    d = load_dataset("digits", test_fraction=0.5)
    assert abs(len(d.x_test) - 1797 / 2) <= 1


def test_stratified_split_gives_each_class_its_share():
    from genzoo.data.dataset import stratified_split

    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    tr, te = stratified_split(len(y), y, 25, seed=3)
    assert len(te) == 25 and len(tr) == 75
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(100))
    np.testing.assert_allclose(np.bincount(y[te], minlength=4), [12.5, 7.5, 3.75, 1.25], atol=1)
    tr2, te2 = stratified_split(len(y), y, 25, seed=3)
    assert np.array_equal(te, te2)
    assert not np.array_equal(np.sort(te), np.sort(stratified_split(len(y), y, 25, seed=4)[1]))


def test_points_transforms_use_train_statistics():
    ds = load_dataset("grid25", n=2000)
    t = ds.transform("standard")
    z = t.forward(ds.x_train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    u = ds.transform("unit").forward(ds.x_train)
    np.testing.assert_allclose(u.min(0), 0, atol=1e-6)
    np.testing.assert_allclose(u.max(0), 1, atol=1e-6)


# ---------------------------------------------------------------- user files
@pytest.mark.parametrize("gz", [False, True])
def test_idx_with_paired_labels(tmp_path, gz):
    x, y = digit_images()
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", x, gz=gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", y.astype(np.uint8), gz=gz)
    ds = load_dataset(str(tmp_path / f"train-images-idx3-ubyte{suffix}"))
    assert ds.kind == "image" and ds.shape == (1, 6, 6) and ds.num_classes == 4
    assert ds.value_range == (0.0, 255.0)
    all_x = np.concatenate([ds.x_train, ds.x_test])
    assert sorted(map(bytes, all_x.astype(np.uint8))) == sorted(map(bytes, x[:, None]))


def test_idx_big_endian_float(tmp_path):
    x = np.linspace(-2, 3, 40 * 5, dtype=np.float32).reshape(40, 5)
    write_idx(tmp_path / "table.idx", x, type_code=0x0D)
    ds = load_dataset(str(tmp_path / "table.idx"))
    assert ds.kind == "table"
    np.testing.assert_allclose(
        np.sort(np.concatenate([ds.x_train, ds.x_test]).ravel()), np.sort(x.ravel())
    )


def test_npz_npy_and_layouts(tmp_path):
    x, y = digit_images()
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.shape == (1, 6, 6) and ds.num_classes == 4
    rgb = np.random.default_rng(0).random((30, 5, 5, 3)).astype(np.float32)  # NHWC in [0, 1]
    np.save(tmp_path / "rgb.npy", rgb)
    ds = load_dataset(str(tmp_path / "rgb.npy"))
    assert ds.shape == (3, 5, 5) and ds.value_range == (0.0, 1.0) and ds.y_train is None
    pts = np.random.default_rng(0).normal(size=(50, 2))
    np.save(tmp_path / "pts.npy", pts)
    assert load_dataset(str(tmp_path / "pts.npy")).kind == "points"


def test_image_folder_gray_and_rgb(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / "gray" / cls).mkdir(parents=True)
        (tmp_path / "rgb" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (7, 5), 40 * i).save(tmp_path / "gray" / cls / f"{i}.png")
            Image.new("RGB", (7, 5), (i * 50, 0, 200)).save(tmp_path / "rgb" / cls / f"{i}.png")
    gray = load_dataset(str(tmp_path / "gray"), test_fraction=0.34)
    assert gray.shape == (1, 5, 7) and gray.classes == ["cat", "dog"]
    rgb = load_dataset(str(tmp_path / "rgb"), test_fraction=0.34)
    assert rgb.shape == (3, 5, 7)
    assert np.all(rgb.x_train[:, 2] == 200)  # channel order kept


def test_csv_with_header_and_label_column(tmp_path):
    rows = ["a,b,c,kind"] + [f"{i},{i * 2},{-i},{'xy'[i % 2]}" for i in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset(str(tmp_path / "t.csv"), label_column="kind")
    assert ds.kind == "table" and ds.shape == (3,) and ds.classes == ["x", "y"]
    assert ds.meta["columns"] == ["a", "b", "c"]
    (tmp_path / "p.csv").write_text("\n".join(f"{i},{i % 3}" for i in range(20)))
    assert load_dataset(str(tmp_path / "p.csv")).kind == "points"  # no header, 2 columns


# ---------------------------------------------------------------- refused inputs
def bad(path, match, **options):
    with pytest.raises(DataError, match=match) as err:
        load_dataset(str(path), **options)
    assert str(path.name) in str(err.value) or str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(str(tmp_path / "nope.npz"))


def test_idx_wrong_magic(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 40)
    bad(p, "bad IDX magic number 0x12340803")


def test_idx_truncated(tmp_path):
    x, _ = digit_images()
    p = tmp_path / "x-idx3-ubyte"
    write_idx(p, x)
    p.write_bytes(p.read_bytes()[:-7])
    bad(p, "truncated")
    p.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    bad(p, "truncated IDX header")


def test_idx_label_count_mismatch(tmp_path):
    x, y = digit_images()
    write_idx(tmp_path / "train-images-idx3-ubyte", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y[:-3].astype(np.uint8))
    with pytest.raises(DataError, match="37 labels for 40 examples"):
        load_dataset(str(tmp_path / "train-images-idx3-ubyte"))


def test_empty_folder(tmp_path):
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    bad(tmp_path / "empty", "no images found")


def test_images_of_different_sizes(tmp_path):
    (tmp_path / "f" / "a").mkdir(parents=True)
    Image.new("L", (6, 6)).save(tmp_path / "f" / "a" / "1.png")
    Image.new("L", (6, 6)).save(tmp_path / "f" / "a" / "2.png")
    Image.new("L", (9, 6)).save(tmp_path / "f" / "a" / "3.png")
    with pytest.raises(DataError, match=r"3.png: image is 9x6, but 1.png is 6x6"):
        load_dataset(str(tmp_path / "f"))


def test_unreadable_image(tmp_path):
    (tmp_path / "f" / "a").mkdir(parents=True)
    (tmp_path / "f" / "a" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="x.png: not a readable image"):
        load_dataset(str(tmp_path / "f"))


def test_decompression_bomb_guard_stays_on(tmp_path, monkeypatch):
    (tmp_path / "f" / "a").mkdir(parents=True)
    Image.new("L", (40, 40)).save(tmp_path / "f" / "a" / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 px > 2 x limit: a "bomb"
    with pytest.raises(DataError, match="big.png: refused as a decompression bomb"):
        load_dataset(str(tmp_path / "f"))


def test_csv_non_numeric(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b\n1,2\n3,oops\n")
    bad(p, r"line 3, column 'b': 'oops' is not a number")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_csv_nan_inf(tmp_path, value):
    p = tmp_path / "t.csv"
    p.write_text(f"a,b\n1,2\n3,{value}\n4,5\n")
    bad(p, "is not a finite number")


def test_npy_nan_inf(tmp_path):
    x = np.ones((10, 3))
    x[4, 1] = np.inf
    np.save(tmp_path / "x.npy", x)
    bad(tmp_path / "x.npy", r"1 NaN or infinite values \(first at index \(4, 1\)\)")


def test_object_array_in_npz_is_refused(tmp_path):
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}, None], dtype=object))
    bad(tmp_path / "o.npz", "object array")


def test_npz_without_data_key(tmp_path):
    np.savez(tmp_path / "k.npz", foo=np.ones((4, 2)), bar=np.ones(4))
    bad(tmp_path / "k.npz", "no data array; expected one of the keys")


def test_unknown_format(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    bad(p, "unknown file type")


def test_class_too_small_to_stratify(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 3))
    y = np.array([0] * 19 + [1])
    np.savez(tmp_path / "s.npz", x=x, y=y)
    bad(tmp_path / "s.npz", "class '1' has 1 example")


def test_data_config_validated():
    with pytest.raises(ConfigError, match="data.test_fraction=1.5"):
        from_dict(DataConfig, {"test_fraction": 1.5}, prefix="data.")


def test_keeping_classes_never_leaks_into_the_full_test_split():
    full = load_dataset("digits")
    three = load_dataset("digits", classes=("3",))
    assert set(three.y_train) == set(three.y_test) == {3}
    seen = {x.tobytes() for x in three.x_train}
    assert not any(x.tobytes() in seen for x in full.x_test)  # the one-class protocol's need
    with pytest.raises(DataError, match="'11' is not a class of digits"):
        load_dataset("digits", classes=("11",))
