"""Publish the shipped weights file to the Hugging Face Hub and pin the manifest to that commit.

    python -m boneage.cli.publish --repo-id your-name/bone-age --weights weights

Uploads ``<weights>/<manifest.filename>`` (needs a Hub token: ``hf auth login`` or ``HF_TOKEN``),
then writes ``hub = {repo_id, filename, revision}`` into the manifest, with the full commit sha
of that upload: the app then downloads exactly that file (and checks its sha256) and falls back
to the copy in ``weights/``. Commit the changed manifest.json afterwards.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from boneage.weights import DEFAULT_WEIGHTS_DIR, MANIFEST_NAME, HubLocation, Manifest, verify


def publish(weights_dir: Path, repo_id: str, api=None) -> Manifest:
    """Upload the verified weights file; return (and save) the manifest pinned to the new commit."""
    from huggingface_hub import HfApi

    api = api or HfApi()
    manifest_path = Path(weights_dir) / MANIFEST_NAME
    manifest = Manifest.load(manifest_path)
    path = Path(weights_dir) / manifest.filename
    verify(path, manifest)  # never publish a file the manifest does not vouch for
    api.create_repo(repo_id, repo_type="model", exist_ok=True)
    commit = api.upload_file(
        path_or_fileobj=str(path),
        path_in_repo=manifest.filename,
        repo_id=repo_id,
        repo_type="model",
        commit_message=f"{manifest.name} {manifest.version} (sha256 {manifest.sha256[:12]})",
    )
    pinned = replace(manifest, hub=HubLocation(repo_id, manifest.filename, commit.oid))
    pinned.save(manifest_path)
    return pinned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo-id", required=True, help="Hub model repository, e.g. your-name/bone-age")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    args = parser.parse_args(argv)
    manifest = publish(args.weights, args.repo_id)
    print(f"published {manifest.filename} to {args.repo_id} at {manifest.hub.revision}; commit manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
