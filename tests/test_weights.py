from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from boneage.errors import ModelNotInstalledError, WeightsIntegrityError
from boneage.model.architectures import create_model
from boneage.model.loading import load_model
from boneage.weights import (
    HubLocation,
    Manifest,
    resolve_weights,
    save_weights,
    sha256_of,
)

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _fields(**extra) -> dict:
    return {
        "name": "tiny",
        "version": "0.0.1",
        "architecture": "seed-cnn",
        "architecture_kwargs": {"input_size": 32},
        "input_size": 32,
        "uses_sex": False,
        "preprocess": {"size": 32},
        "metrics": {"val_mae_months": 12.5},
        "training": {},
        "hub": None,
        **extra,
    }


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Manifest, torch.nn.Module]:
    torch.manual_seed(0)
    model = create_model("seed-cnn", input_size=32)
    manifest = save_weights(model, tmp_path / "w", _fields())
    return tmp_path / "w", manifest, model


def test_save_writes_safetensors_and_manifest_with_sha(saved):
    folder, manifest, _ = saved
    assert (folder / "tiny.safetensors").is_file()
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk["sha256"] == sha256_of(folder / "tiny.safetensors") == manifest.sha256
    assert Manifest.load(folder / "manifest.json") == manifest


def test_explicit_path_loads_identical_weights(saved):
    folder, _, model = saved
    resolved = resolve_weights(explicit=folder)
    assert resolved.source == "explicit"
    loaded = load_model(resolved)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_environment_variable_is_an_explicit_path(saved, monkeypatch):
    monkeypatch.setenv("BONEAGE_WEIGHTS", str(saved[0]))
    assert resolve_weights(weights_dir="/nonexistent").source == "explicit"


def test_local_copy_is_the_fallback(saved):
    folder, _, _ = saved
    resolved = resolve_weights(weights_dir=folder)
    assert resolved.source == "local" and resolved.path == folder / "tiny.safetensors"


def test_sha_mismatch_is_refused(saved):
    folder, _, _ = saved
    with open(folder / "tiny.safetensors", "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(WeightsIntegrityError, match="refusing"):
        resolve_weights(weights_dir=folder)
    with pytest.raises(WeightsIntegrityError):
        resolve_weights(explicit=folder)


def test_no_manifest_means_no_model(tmp_path):
    with pytest.raises(ModelNotInstalledError):
        resolve_weights(weights_dir=tmp_path)
    with pytest.raises(ModelNotInstalledError):
        resolve_weights(explicit=tmp_path)


def test_missing_weights_file_means_no_model(saved):
    folder, _, _ = saved
    (folder / "tiny.safetensors").unlink()
    with pytest.raises(ModelNotInstalledError):
        resolve_weights(weights_dir=folder)


def test_malformed_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(WeightsIntegrityError, match="Malformed"):
        resolve_weights(weights_dir=tmp_path)


def _seed_hub_cache(cache: Path, repo_id: str, source: Path) -> Path:
    """Lay a file out as huggingface_hub's cache does after a download at REVISION."""
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(REVISION)
    shutil.copy(source, snapshot / source.name)
    return snapshot / source.name


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_pinned_hub_file_is_used_from_the_cache_offline(saved, hub_cache, tmp_path):
    folder, manifest, _ = saved
    cached = _seed_hub_cache(hub_cache, "bone-age/models", folder / "tiny.safetensors")
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    pinned = Manifest.from_dict(
        {
            **manifest.to_dict(),
            "hub": {"repo_id": "bone-age/models", "filename": "tiny.safetensors", "revision": REVISION},
        }
    )
    pinned.save(shipped / "manifest.json")  # manifest only: the file must come from the cache
    resolved = resolve_weights(weights_dir=shipped)
    assert resolved.source == "hub"
    assert resolved.path.resolve() == cached.resolve()


def test_hub_miss_falls_back_to_shipped_copy(saved, hub_cache):
    folder, manifest, _ = saved
    pinned = Manifest.from_dict(
        {
            **manifest.to_dict(),
            "hub": {"repo_id": "bone-age/absent", "filename": "tiny.safetensors", "revision": REVISION},
        }
    )
    pinned.save(folder / "manifest.json")
    assert resolve_weights(weights_dir=folder).source == "local"


def test_tampered_hub_file_is_refused(saved, hub_cache, tmp_path):
    folder, manifest, _ = saved
    cached = _seed_hub_cache(hub_cache, "bone-age/models", folder / "tiny.safetensors")
    cached.write_bytes(cached.read_bytes()[:-8] + b"12345678")
    pinned = Manifest.from_dict(
        {**manifest.to_dict(), "hub": HubLocation("bone-age/models", "tiny.safetensors", REVISION).__dict__}
    )
    pinned.save(folder / "manifest.json")
    with pytest.raises(WeightsIntegrityError):
        resolve_weights(weights_dir=folder)


def test_weights_for_another_architecture_are_refused(saved):
    folder, manifest, _ = saved
    wrong = Manifest.from_dict({**manifest.to_dict(), "architecture_kwargs": {"input_size": 64}})
    wrong.save(folder / "manifest.json")
    with pytest.raises(WeightsIntegrityError, match="do not fit"):
        load_model(resolve_weights(weights_dir=folder))


def test_shipped_weights_if_any_are_verified():
    """The repository's own weights/: either no manifest (no model), or a verifiable one."""
    from boneage.weights import DEFAULT_WEIGHTS_DIR

    if not (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file():
        with pytest.raises(ModelNotInstalledError):
            resolve_weights(weights_dir=DEFAULT_WEIGHTS_DIR)
        return
    manifest = Manifest.load(DEFAULT_WEIGHTS_DIR / "manifest.json")
    assert manifest.metrics.get("val_mae_months") is not None
    assert "synthetic" not in manifest.training.get("dataset", "").lower()
    load_model(resolve_weights(weights_dir=DEFAULT_WEIGHTS_DIR))


def test_publish_pins_the_manifest_to_the_uploaded_commit(saved):
    """Publishing goes through huggingface_hub's API (faked: no network) and pins the commit sha."""
    from types import SimpleNamespace

    from boneage.cli.publish import publish

    folder, manifest, _ = saved
    uploads = []

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            uploads.append(("repo", repo_id))

        def upload_file(self, **kwargs):
            uploads.append(("file", kwargs["path_in_repo"], Path(kwargs["path_or_fileobj"]).read_bytes()))
            return SimpleNamespace(oid="a" * 40)

    pinned = publish(folder, "someone/bone-age", api=FakeApi())
    assert pinned.hub == HubLocation("someone/bone-age", manifest.filename, "a" * 40)
    assert Manifest.load(folder / "manifest.json").hub == pinned.hub
    assert uploads[1][2] == (folder / manifest.filename).read_bytes()
    assert pinned.sha256 == manifest.sha256
