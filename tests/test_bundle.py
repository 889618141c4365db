"""Bundles that carry a data set to a lent GPU machine: each fits its call, and unpacking restores it."""

from __future__ import annotations

import itertools
import zipfile

import numpy as np
import pytest

from boneage.cli.bundle import main
from boneage.training.bundle import BundleError, extract_bundle, members_of, plan_bundles, write_bundles


@pytest.fixture
def dataset(tmp_path):
    """A small Kaggle-layout folder: a CSV and images of random sizes (random bytes do not compress)."""
    root = tmp_path / "rsna-mini"
    images = root / "boneage-training-dataset"
    images.mkdir(parents=True)
    (root / "boneage-training-dataset.csv").write_text(
        "id,boneage,male\n" + "".join(f"{i},100,True\n" for i in range(40))
    )
    rng = np.random.default_rng(0)
    for i in range(40):
        (images / f"{i}.jpg").write_bytes(rng.bytes(int(rng.integers(2_000, 30_000))))
    wheel = tmp_path / "weights-0.1.0-py3-none-any.whl"
    wheel.write_bytes(rng.bytes(50_000))
    return root, wheel


def test_bundles_fit_the_limit_and_unpack_to_the_same_files(dataset, tmp_path):
    root, wheel = dataset
    members = members_of(wheel) + members_of(root)
    limit = 120_000
    paths = write_bundles(members, tmp_path / "out", limit)
    assert [p.parent.name for p in paths] == [f"bundle-{n:02d}" for n in range(1, len(paths) + 1)]
    assert len(paths) >= 6  # about 700 kB in 120 kB bundles
    assert all(p.stat().st_size <= limit for p in paths)
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    there = tmp_path / "device"
    assert sum(extract_bundle(p.parent, there) for p in paths) == len(members) == 42
    assert (there / wheel.name).read_bytes() == wheel.read_bytes()
    for file in root.rglob("*"):
        if file.is_file():
            assert (there / root.name / file.relative_to(root)).read_bytes() == file.read_bytes()


def test_the_plan_keeps_order_and_fills_each_bundle(dataset):
    root, _ = dataset
    members = members_of(root)
    bundles = plan_bundles(members, 100_000)
    assert [m for bundle in bundles for m in bundle] == members
    for bundle, following in itertools.pairwise(bundles):
        # nothing that went into the next bundle would have fitted into this one
        assert sum(m.cost for m in bundle) + following[0].cost > 100_000 - 1024


def test_a_file_over_the_limit_and_a_foreign_zip_are_refused(dataset, tmp_path):
    _, wheel = dataset
    with pytest.raises(BundleError, match="alone is over"):
        plan_bundles(members_of(wheel), 40_000)
    with pytest.raises(BundleError, match="Nothing to carry"):
        members_of(tmp_path / "missing")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.txt", "x")
    with pytest.raises(BundleError, match="outside its folder"):
        extract_bundle(evil, tmp_path / "there")
    (tmp_path / "not.zip").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a readable bundle"):
        extract_bundle(tmp_path / "not.zip", tmp_path / "there")


def test_the_command_line_packs_and_unpacks(dataset, tmp_path, capsys):
    root, wheel = dataset
    assert main(["pack", str(wheel), str(root), "--out", str(tmp_path / "out"), "--limit-mb", "0.2"]) == 0
    assert "42 files in" in capsys.readouterr().out
    bundles = sorted((tmp_path / "out").glob("bundle-*"))
    for bundle in bundles:
        assert main(["unpack", str(bundle), "--to", str(tmp_path / "device")]) == 0
    assert len(list((tmp_path / "device" / root.name / "boneage-training-dataset").glob("*.jpg"))) == 40
