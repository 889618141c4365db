"""The forward pass in ONNX Runtime: the same bone ages as PyTorch, and PyTorch kept when it cannot."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from boneage.chain.preprocess import Chain, preprocess
from boneage.io.decode import load_radiograph
from boneage.model import onnx_runtime
from boneage.model.architectures import create_model
from boneage.model.folding import fold_batch_norms
from boneage.model.onnx_runtime import OnnxExportError, export_graph_in_child, export_regressor
from boneage.predictor import BackgroundPredictor, Predictor
from boneage.weights import Manifest, ResolvedWeights, resolve_weights

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"


def test_lite0_graph_gives_pytorch_months_for_any_batch_size():
    torch.manual_seed(0)
    model = fold_batch_norms(create_model("efficientnet-lite0-sex").eval(), 64)
    regressor = export_regressor(model, 64, threads=1)
    for batch in (1, 3, 5):
        images = torch.rand(batch, 1, 64, 64, generator=torch.Generator().manual_seed(batch))
        male = (torch.arange(batch) % 2).float()
        with torch.inference_mode():
            expected = model(images, male)
        got = regressor(images, male)
        assert got.shape == (batch,)
        assert torch.allclose(got, expected, atol=1e-3)
    assert expected.std() > 0  # the images and sexes give different ages: the match is not trivial


def test_shipped_model_answers_the_same_with_onnx_runtime(monkeypatch):
    predictor = Predictor.load()
    pixels = [load_radiograph(path).pixels for path in sorted(EXAMPLES.glob("*.png"))]
    assert len(pixels) == 4
    with_pytorch = [predictor.predict_pixels(image, male=True) for image in pixels]
    assert predictor.runtime.startswith("pytorch")

    assert predictor.use_onnx_runtime(threads=1)
    assert predictor.runtime.startswith("onnxruntime")

    def pytorch_called(*args):
        raise AssertionError("answered with PyTorch after the switch")

    monkeypatch.setattr(predictor.model, "forward", pytorch_called)
    with_onnx = [predictor.predict_pixels(image, male=True) for image in pixels]
    assert np.allclose(with_onnx, with_pytorch, atol=1e-3)
    assert np.ptp(with_pytorch) > 12  # plates from 1 to 12 years: four different answers


def test_the_chains_networks_answer_the_same_with_onnx_runtime(monkeypatch):
    """The hand U-Net and the wrist check move with the model: the same outlines, crops and images.

    Each predictor owns its chain: this test's switch touches no other predictor's networks.
    """
    predictor = Predictor.load()
    pixels = [load_radiograph(path).pixels for path in sorted(EXAMPLES.glob("*.png"))]
    chain = predictor.chain
    assert list(chain.networks) == ["hand segmenter", "wrist check"]
    assert all(runtime.startswith("pytorch") for runtime in chain.runtimes().values())
    unet, wrist = chain.unet, chain.wrist
    with_pytorch = [preprocess(image, chain) for image in pixels]
    probabilities = [unet.analyse(image).probability for image in pixels]
    wrist_missing = [wrist.missing_probability(result.image) for result in with_pytorch]

    assert predictor.use_onnx_runtime(threads=1)
    assert [runtime.split()[0] for runtime in chain.runtimes().values()] == ["onnxruntime"] * 2
    assert all(r.startswith("pytorch") for r in Predictor.load().chain.runtimes().values())

    def pytorch_called(*args):
        raise AssertionError("the chain answered with PyTorch after the switch")

    for network in chain.networks.values():
        monkeypatch.setattr(network.model, "forward", pytorch_called)
    with_onnx = [preprocess(image, chain) for image in pixels]
    for before, after in zip(with_pytorch, with_onnx, strict=True):
        assert after.crop_box == before.crop_box and after.orientation == before.orientation
        assert np.array_equal(after.source_mask, before.source_mask)
        assert np.abs(after.image - before.image).max() < 1e-5
    for image, probability in zip(pixels, probabilities, strict=True):
        assert np.abs(unet.analyse(image).probability - probability).max() < 1e-4
    for result, missing in zip(with_onnx, wrist_missing, strict=True):
        assert wrist.missing_probability(result.image) == pytest.approx(missing, abs=1e-5)
    assert np.ptp(probabilities[0]) > 0.9  # hand and background: the comparison is not of blanks


def test_a_chain_network_that_cannot_be_exported_keeps_pytorch(trained_weights: Path, tmp_path: Path, caplog):
    served = Chain.load()  # a chain with the U-Net outline and the wrist check, as the shipped model's
    wrist = served.wrist
    altered = tmp_path / wrist.weights.path.name
    data = bytearray(wrist.weights.path.read_bytes())
    data[-1] ^= 0xFF
    altered.write_bytes(bytes(data))
    wrist.weights = ResolvedWeights(wrist.manifest, altered, "hub")

    resolved = resolve_weights(trained_weights)
    predictor = Predictor.from_resolved(resolved, chain=served)
    assert predictor.use_onnx_runtime(threads=1)  # the bone-age model moves all the same
    assert predictor.runtime.startswith("onnxruntime")
    assert served.runtimes()["wrist check"].startswith("pytorch")
    assert served.runtimes()["hand segmenter"].startswith("onnxruntime")
    assert "Serving the wrist check with PyTorch" in caplog.text and "sha256" in caplog.text
    assert 0.0 <= wrist.missing_probability(np.zeros((128, 128), np.float32)) <= 1.0  # PyTorch answers


def test_graph_that_disagrees_with_pytorch_is_refused_and_pytorch_stays(
    trained_weights: Path, hand_pixels: np.ndarray, monkeypatch
):
    predictor = Predictor.load(explicit=trained_weights)
    before = predictor.predict_pixels(hand_pixels, male=False)
    monkeypatch.setattr(onnx_runtime, "ONNX_TOLERANCE", -1.0)  # any difference is too much
    with pytest.raises(OnnxExportError, match="differs from PyTorch"):
        export_regressor(predictor.model, predictor.manifest.input_size)

    assert predictor.use_onnx_runtime() is False
    assert predictor.runtime.startswith("pytorch")
    assert predictor.predict_pixels(hand_pixels, male=False) == before


def test_without_the_packages_pytorch_serves(trained_weights: Path, monkeypatch):
    real_find_spec = onnx_runtime.importlib.util.find_spec
    monkeypatch.setattr(
        onnx_runtime.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "onnxruntime" else real_find_spec(name, *args),
    )
    assert onnx_runtime.onnx_runtime_available() is False
    predictor = Predictor.load(explicit=trained_weights)
    with pytest.raises(OnnxExportError, match="onnxruntime"):
        export_regressor(predictor.model, predictor.manifest.input_size)
    assert predictor.use_onnx_runtime() is False
    assert predictor.runtime.startswith("pytorch")


def test_weights_away_from_their_manifest_are_exported_too(trained_weights: Path, tmp_path: Path):
    """As from the Hub: the file lies in the Hub's cache, the manifest in weights/."""
    manifest = Manifest.load(trained_weights / "manifest.json")
    cached = tmp_path / "hub-cache" / "snapshot" / manifest.filename
    cached.parent.mkdir(parents=True)
    shutil.copyfile(trained_weights / manifest.filename, cached)
    predictor = Predictor.from_resolved(ResolvedWeights(manifest, cached, "hub"))
    assert not (cached.parent / "manifest.json").exists()
    assert predictor.use_onnx_runtime(threads=1)
    assert predictor.runtime.startswith("onnxruntime")


def test_a_failed_export_process_says_why_and_pytorch_stays(
    trained_weights: Path, hand_pixels: np.ndarray, tmp_path: Path
):
    predictor = Predictor.load(explicit=trained_weights)
    manifest = predictor.manifest
    altered = tmp_path / manifest.filename
    data = bytearray((trained_weights / manifest.filename).read_bytes())
    data[-1] ^= 0xFF
    altered.write_bytes(bytes(data))
    with pytest.raises(OnnxExportError, match="export process failed: .*sha256"):
        export_graph_in_child(ResolvedWeights(manifest, altered, "hub"))  # the child verifies again

    predictor.weights = ResolvedWeights(manifest, altered, "hub")
    assert predictor.use_onnx_runtime() is False
    assert predictor.runtime.startswith("pytorch")
    assert 0 <= predictor.predict_pixels(hand_pixels, male=True) <= 240


def test_if_onnx_runtime_fails_at_answer_time_pytorch_answers(
    trained_weights: Path, hand_pixels: np.ndarray, monkeypatch, caplog
):
    predictor = Predictor.load(explicit=trained_weights)
    expected = predictor.predict_pixels(hand_pixels, male=True)
    assert predictor.use_onnx_runtime(threads=1)

    def broken(*args, **kwargs):
        raise RuntimeError("onnxruntime: out of memory")

    monkeypatch.setattr(predictor._forward.current.session, "run", broken)
    assert predictor.predict_pixels(hand_pixels, male=True) == pytest.approx(expected, abs=1e-3)
    assert predictor.runtime.startswith("pytorch")
    assert "serving with PyTorch from now on" in caplog.text


@pytest.mark.parametrize("onnx", [True, False])
def test_background_predictor_switches_only_when_asked(trained_weights: Path, hand_pixels, onnx: bool):
    background = BackgroundPredictor(resolve_weights(trained_weights), onnx_runtime=onnx)
    first = background.get().predict_pixels(hand_pixels, male=True)  # answers before the switch too
    assert background.runtime_settled.wait(120)
    predictor = background.get()
    assert predictor.runtime.startswith("onnxruntime" if onnx else "pytorch")
    assert predictor.predict_pixels(hand_pixels, male=True) == pytest.approx(first, abs=1e-3)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's"
)
def test_the_export_process_ends_with_the_app(trained_weights: Path):
    """A server stopped during its export leaves no process behind to burn the CPU."""
    psutil = pytest.importorskip("psutil")
    app = (
        "import sys, threading, time\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from boneage.model.onnx_runtime import export_graph_in_child\n"
        "from boneage.weights import resolve_weights\n"
        f"weights = resolve_weights({str(trained_weights)!r})\n"
        "threading.Thread(target=export_graph_in_child, args=(weights,), daemon=True).start()\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", app])
    exporter = None
    try:
        deadline = time.time() + 60
        while (exporter := _exporter_started_by(parent.pid, psutil)) is None:
            assert time.time() < deadline, "the export process never started"
            time.sleep(0.05)
        # Once it imports torch it is past its first lines, where it asks to end with its parent.
        while exporter.memory_info().rss < 150 * 2**20:
            assert time.time() < deadline, "the export process never got going"
            time.sleep(0.05)
        # Held still while its app is killed, so that no timing decides the test: the kernel's
        # SIGTERM must then be waiting for it (without the parent-death request, nothing is).
        exporter.suspend()
        while exporter.status() != psutil.STATUS_STOPPED:
            time.sleep(0.01)
        parent.kill()  # no clean-up at all, as when a server is killed
        parent.wait()
        assert _pending_signals(exporter.pid) & (1 << (signal.SIGTERM - 1))
        exporter.resume()
        psutil.wait_procs([exporter], timeout=30)
        assert not exporter.is_running()
    finally:
        parent.kill()
        if exporter is not None and exporter.is_running():  # a failed run leaves no orphan behind
            exporter.kill()


def _pending_signals(pid: int) -> int:
    """The signals waiting for a process, as the kernel's bit mask (``/proc/PID/status``)."""
    fields = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)


def test_export_command_writes_a_graph_onnx_runtime_runs(trained_weights: Path, tmp_path: Path):
    import onnxruntime

    from boneage.cli.export_onnx import main as export_main

    out = tmp_path / "model.onnx"
    assert export_main([str(trained_weights), str(out)]) == 0
    session = onnxruntime.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    size = Predictor.load(explicit=trained_weights).manifest.input_size
    (months,) = session.run(
        None, {"images": np.zeros((3, 1, size, size), np.float32), "male": np.ones(3, np.float32)}
    )
    assert months.shape == (3,) and np.all((months > 0) & (months < 300))
    assert export_main([str(tmp_path / "nowhere"), str(tmp_path / "x.onnx")]) == 2  # says why, no traceback


def _exporter_started_by(pid: int, psutil):
    """The export child of ``pid``, if it runs yet (imports start short-lived helpers too)."""
    for child in psutil.Process(pid).children():
        try:
            if "boneage.cli.export_onnx" in " ".join(child.cmdline()):
                return child
        except psutil.Error:  # a helper that has already gone
            continue
    return None


@pytest.mark.parametrize(
    ("folder", "outputs"), [("segmenter", [(2, 1, 128, 128), (2, 3)]), ("wrist-check", [(2,)])]
)
def test_export_command_writes_the_chains_networks_too(folder: str, outputs: list, tmp_path: Path):
    """The manifest's architecture says which network the child exports (the app's chain uses both)."""
    import onnxruntime

    from boneage.cli.export_onnx import main as export_main

    out = tmp_path / "network.onnx"
    assert export_main([str(REPO_ROOT / "weights" / folder), str(out)]) == 0
    session = onnxruntime.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": np.zeros((2, 1, 128, 128), np.float32)})
    assert [result.shape for result in got] == outputs
