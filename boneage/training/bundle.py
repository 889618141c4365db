"""Carry a data set to a lent GPU machine, in bundles that each fit one call.

The device tool copies the checkout and a few ignored folders, at most 64 MiB per call, and
never ``../shared``. So a data set travels as zip bundles, one per back-to-back call. The warm
machine keeps what the earlier calls unpacked. Members are stored, not deflated: the images are
JPEG or PNG and compress no further, and storing keeps packing and unpacking fast.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from boneage.errors import SetupError

BUNDLE_NAME = "bundle.zip"
# A stored zip member costs a local header and a central-directory entry, each with its name.
_MEMBER_OVERHEAD = 128
_ARCHIVE_OVERHEAD = 1024


class BundleError(SetupError):
    """A file cannot be carried within the limit, or a bundle is not one of ours."""


@dataclass(frozen=True)
class Member:
    """One file to carry: where it is here, and its path inside the bundle (and on the device)."""

    source: Path
    arcname: str

    @property
    def cost(self) -> int:
        return self.source.stat().st_size + _MEMBER_OVERHEAD + 2 * len(self.arcname.encode())


def members_of(path: Path) -> list[Member]:
    """A file as ``<name>``, or every file under a folder as ``<folder name>/<relative path>``, sorted."""
    path = Path(path)
    if path.is_file():
        return [Member(path, path.name)]
    if not path.is_dir():
        raise BundleError(f"Nothing to carry at {path}.")
    return [
        Member(file, f"{path.name}/{file.relative_to(path).as_posix()}")
        for file in sorted(path.rglob("*"))
        if file.is_file()
    ]


def plan_bundles(members: list[Member], limit_bytes: int) -> list[list[Member]]:
    """Split members, in order, into as few consecutive bundles as fit ``limit_bytes`` each."""
    room = limit_bytes - _ARCHIVE_OVERHEAD
    bundles: list[list[Member]] = []
    current: list[Member] = []
    used = 0
    for member in members:
        cost = member.cost
        if cost > room:
            raise BundleError(f"{member.source} ({cost} bytes) alone is over the {limit_bytes}-byte limit.")
        if current and used + cost > room:
            bundles.append(current)
            current, used = [], 0
        current.append(member)
        used += cost
    if current:
        bundles.append(current)
    return bundles


def write_bundles(members: list[Member], out: Path, limit_bytes: int) -> list[Path]:
    """Write ``out/bundle-01/bundle.zip``, ``out/bundle-02/...``; one folder per device call."""
    paths = []
    for number, bundle in enumerate(plan_bundles(members, limit_bytes), start=1):
        folder = Path(out) / f"bundle-{number:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / BUNDLE_NAME
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for member in bundle:
                archive.write(member.source, member.arcname)
        paths.append(path)
    return paths


def extract_bundle(bundle: Path, destination: Path) -> int:
    """Unpack one bundle (a folder holding ``bundle.zip``, or the zip itself); returns files written."""
    bundle = Path(bundle)
    path = bundle / BUNDLE_NAME if bundle.is_dir() else bundle
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path} is not a readable bundle: {exc}") from exc
    with archive:
        names = archive.namelist()
        unsafe = [n for n in names if n.startswith("/") or ".." in Path(n).parts]
        if unsafe:
            raise BundleError(f"{path} has members outside its folder: {unsafe[:3]}")
        archive.extractall(destination)
    return len(names)
