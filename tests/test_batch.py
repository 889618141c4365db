"""Batch bone ages: one process, a pool of processes and Ray give the same rows; --resume after a kill."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from boneage.batch import BatchOutput, Job, RayNotInstalledError, Serving, run_ray
from boneage.cli.predict import main as predict_main
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest
from conftest import ATLAS_DIR, REPO_ROOT, SHARED_DATA

RSNA = SHARED_DATA / "rsna-train-299"
needs_rsna = pytest.mark.skipif(
    not (RSNA / "boneage-training-dataset.csv").is_file(), reason="no rsna-train-299"
)
needs_atlas = pytest.mark.skipif(not (ATLAS_DIR / "labels.csv").is_file(), reason="no atlas-pedrad")


@pytest.fixture(scope="module")
def two_hundred_films(tmp_path_factory) -> tuple[list[str], Path]:
    """200 real films (links, not copies), a file that is no image, and labels with an age for half."""
    folder = tmp_path_factory.mktemp("films")
    rows = list(csv.DictReader((RSNA / "boneage-training-dataset.csv").open()))[:200]
    labels = ["id,male,age_months"]
    for index, row in enumerate(rows):
        (folder / f"{row['id']}.jpg").symlink_to(RSNA / "boneage-training-dataset" / f"{row['id']}.jpg")
        labels.append(f"{row['id']},{row['male']},{row['boneage'] if index % 2 else ''}")
    (folder / "broken.png").write_bytes(b"not an image at all")
    (tmp_path_factory.getbasetemp() / "labels.csv").write_text("\n".join(labels) + "\n")
    return [str(folder), "--labels", str(tmp_path_factory.getbasetemp() / "labels.csv"), "--pytorch"], folder


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open()))


@needs_rsna
def test_one_process_many_processes_and_ray_give_the_same_csv(
    two_hundred_films, trained_weights, tmp_path: Path
):
    """The same rows in the same order, to the byte, however the films are shared out.

    A small model trained by train.py (the shipped one is exercised by the resume test): what is
    compared is the sharing out, and Ray's start already costs most of this test.
    """
    pytest.importorskip("ray")
    args, _ = two_hundred_films
    args = [*args, "--weights", str(trained_weights)]
    outputs = {how: tmp_path / f"{how}.csv" for how in ("one", "pool", "ray")}
    assert predict_main([*args, "--workers", "1", "--out", str(outputs["one"])]) == 0
    assert predict_main([*args, "--workers", "2", "--out", str(outputs["pool"])]) == 0
    assert predict_main([*args, "--workers", "2", "--ray", "--out", str(outputs["ray"])]) == 0

    one = outputs["one"].read_bytes()
    assert outputs["pool"].read_bytes() == one and outputs["ray"].read_bytes() == one
    rows = _rows(outputs["one"])
    assert len(rows) == 201 and [Path(r["file"]).stem for r in rows] == sorted(
        Path(r["file"]).stem for r in rows
    )
    broken = next(r for r in rows if r["file"].endswith("broken.png"))
    assert "could not be read as an image" in broken["error"] and broken["bone_age_months"] == ""
    estimated = [r for r in rows if r["bone_age_months"]]
    assert len(estimated) >= 180 and sum(1 for r in estimated if r["gap_months"]) >= 90  # half have an age
    side = json.loads(outputs["ray"].with_name("ray.csv.json").read_text())
    model = Manifest.load(trained_weights / "manifest.json")
    assert side["model"] == {"name": model.name, "version": model.version, "sha256": model.sha256}
    assert side["ran_on"].startswith("ray") and side["written"] == 201


@needs_atlas
def test_resume_after_a_kill_completes_the_batch_without_duplicates(tmp_path: Path):
    out = tmp_path / "atlas.csv"
    command = [sys.executable, "-m", "boneage.cli.predict", str(ATLAS_DIR / "images"), "--sex", "female"]
    command += ["--pytorch", "--workers", "1", "--out", str(out)]
    run = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (not out.is_file() or len(out.read_text().splitlines()) < 12):
            time.sleep(0.2)
    finally:
        run.kill()
        run.wait()
    written_before = len(_rows(out))
    assert 10 <= written_before < 54, "killed part-way"
    with out.open("a") as handle:  # a row the kill cut short
        handle.write(str(ATLAS_DIR / "images" / "M99.png") + ",fem")

    assert predict_main([*command[3:], "--resume"]) == 0
    rows = _rows(out)
    files = [r["file"] for r in rows]
    assert len(files) == 54 and len(set(files)) == 54 and not any("M99" in f for f in files)
    assert files == sorted(files)  # the input's order, across the two runs
    side = json.loads(out.with_name("atlas.csv.json").read_text())
    assert side["skipped_as_done"] == written_before and side["written"] == 54 - written_before
    shipped = Manifest.load(DEFAULT_WEIGHTS_DIR / "manifest.json")
    assert side["model"] == {"name": shipped.name, "version": shipped.version, "sha256": shipped.sha256}

    straight = tmp_path / "straight.csv"
    assert predict_main([*command[3:-2], "--out", str(straight)]) == 0
    assert straight.read_text() == out.read_text()


def test_a_cut_last_line_is_dropped_and_its_file_done_again(tmp_path: Path):
    out = tmp_path / "r.csv"
    out.write_text(
        "file,sex,age_months,bone_age_months,gap_months,meaning,model,error\na.png,male,,100.0,,,m,\nb.pn"
    )
    assert BatchOutput(out, resume=True).done == {"a.png"}
    assert out.read_text().endswith("m,\n")
    assert BatchOutput(out, resume=False).done == set() and not out.exists()


def test_ray_missing_is_said_plainly(monkeypatch, tmp_path: Path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    with pytest.raises(RayNotInstalledError, match="requirements-batch.txt"):
        next(run_ray([Job("x.png", "male")], Serving(), 1, None))
    image = tmp_path / "x.png"
    image.write_bytes(b"x")
    assert predict_main([str(image), "--sex", "male", "--ray", "--out", str(tmp_path / "r.csv")]) == 2
    assert "--ray needs Ray" in capsys.readouterr().err


def test_height_columns_from_the_labels(tmp_path: Path):
    """--labels may give the heights: the row gets the centile, the target and the prediction, or
    why there is none; a row without them leaves the height columns empty."""
    plates = sorted((ATLAS_DIR / "images").glob("M*.png"))[-2:]
    if len(plates) < 2:
        pytest.skip("no atlas-pedrad")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,sex,age_months,height_cm,mother_cm,father_cm\n"
        f"{plates[0].name},male,160,160,165,180\n{plates[1].name},male,160,,,\n"
    )
    out = tmp_path / "heights.csv"
    command = [*map(str, plates), "--labels", str(labels), "--pytorch", "--workers", "1", "--out", str(out)]
    assert predict_main(command) == 0
    with_height, without = _rows(out)
    assert with_height["height_cm"] == "160.0" and with_height["target_cm"] == "179.0"
    assert float(with_height["height_centile"]) > 50
    assert with_height["predicted_adult_height_cm"] or with_height["height_note"] in (
        "bone_age_below_tables", "growth_complete", "outside_table",
    )  # fmt: skip
    if with_height["predicted_adult_height_cm"]:
        low, cm, high = (
            float(with_height[k])
            for k in ("predicted_low_cm", "predicted_adult_height_cm", "predicted_high_cm")
        )
        assert low < cm < high and cm >= 160
    assert (
        without["height_cm"] == ""
        and without["predicted_adult_height_cm"] == ""
        and without["bone_age_months"]
    )
