"""Where interface files are: the ament index, the interpreter's prefix, and the user's folders.

Search order (first hit wins, so a user's folder can shadow an installed package):

1. folders added by argument (`TypeRegistry(paths=...)`, `add_search_path`), newest first;
2. `DORA_ROS_MSG_PATH` (os.pathsep-separated), in order;
3. every prefix of `AMENT_PREFIX_PATH`, in order;
4. the running interpreter's prefix (`sys.prefix`), where the pip ROS 2 wheels put `share/<pkg>/`.

A folder may be an install prefix (has `share/<pkg>/msg/...`), a package (has `msg/`, `srv/` or
`action/`; its name is `package.xml`'s `<name>` or the folder's name), or a folder of packages (a
colcon `src/`, searched three levels deep). Packages are indexed lazily, once per registry.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["InterfaceIndex", "default_roots"]

_KINDS = ("msg", "srv", "action")
_EXTS = {"msg": ".msg", "srv": ".srv", "action": ".action"}
_PKG_NAME = re.compile(r"<name>\s*([A-Za-z0-9_]+)\s*</name>")


def default_roots() -> list[Path]:
    """DORA_ROS_MSG_PATH, then AMENT_PREFIX_PATH prefixes, then sys.prefix (deduplicated)."""
    roots: list[Path] = []
    for var in ("DORA_ROS_MSG_PATH", "AMENT_PREFIX_PATH"):
        roots += [Path(p) for p in os.environ.get(var, "").split(os.pathsep) if p]
    roots.append(Path(sys.prefix))
    out: list[Path] = []
    for root in roots:
        if root not in out:
            out.append(root)
    return out


def _is_package(folder: Path) -> bool:
    return any((folder / k).is_dir() for k in _KINDS)


def _package_name(folder: Path) -> str:
    xml = folder / "package.xml"
    if xml.is_file():
        try:
            m = _PKG_NAME.search(xml.read_text(errors="replace"))
        except OSError:
            m = None
        if m:
            return m.group(1)
    return folder.name


def _packages_in(root: Path, depth: int = 3) -> Iterator[tuple[str, Path]]:
    """(package name, package folder) found under one search root."""
    if not root.is_dir():
        return
    share = root / "share"
    if share.is_dir():
        index = share / "ament_index" / "resource_index" / "rosidl_interfaces"
        names = (
            sorted(p.name for p in index.iterdir())
            if index.is_dir()
            else sorted(p.name for p in share.iterdir())
        )
        for name in names:
            if _is_package(share / name):
                yield name, share / name
        # A prefix may also hold packages without index entries (hand-installed): cheap to check.
        if index.is_dir():
            for p in sorted(share.iterdir()):
                if p.name not in names and _is_package(p):
                    yield p.name, p
        return
    if _is_package(root):
        yield _package_name(root), root
        return
    if depth > 0:
        try:
            children = sorted(
                p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
            )
        except OSError:
            return
        for child in children:
            yield from _packages_in(child, depth - 1)


class InterfaceIndex:
    """Finds interface files of packages under a list of search roots (see the module docstring)."""

    def __init__(self, roots: Iterable[Path | str] | None = None) -> None:
        self._roots: list[Path] = [Path(r) for r in roots] if roots is not None else default_roots()
        self._packages: dict[str, list[Path]] | None = None

    @property
    def roots(self) -> tuple[Path, ...]:
        return tuple(self._roots)

    def add_root(self, path: Path | str, *, first: bool = True) -> None:
        """Search `path` too (before the others when `first`)."""
        path = Path(path)
        if path in self._roots:
            self._roots.remove(path)
        if first:
            self._roots.insert(0, path)
        else:
            self._roots.append(path)
        self._packages = None

    def packages(self) -> dict[str, list[Path]]:
        """Package name -> its folders, in search order (the first folder shadows the others)."""
        if self._packages is None:
            packages: dict[str, list[Path]] = {}
            for root in self._roots:
                for name, folder in _packages_in(root):
                    folders = packages.setdefault(name, [])
                    if folder not in folders:
                        folders.append(folder)
            self._packages = packages
        return self._packages

    def find(self, package: str, kind: str, base: str) -> Path | None:
        """The file of `package/kind/base`: `.msg`/`.srv`/`.action` if there, else `.idl`."""
        for folder in self.packages().get(package, ()):
            for ext in (_EXTS[kind], ".idl"):
                path = folder / kind / (base + ext)
                if path.is_file():
                    return path
        return None

    def interfaces(self) -> list[str]:
        """Every `pkg/kind/Type` known (for 'did you mean' suggestions and listings)."""
        out: set[str] = set()
        for name, folders in self.packages().items():
            for folder in folders:
                for kind in _KINDS:
                    d = folder / kind
                    if d.is_dir():
                        for p in d.iterdir():
                            if p.suffix in (_EXTS[kind], ".idl"):
                                out.add(f"{name}/{kind}/{p.stem}")
        return sorted(out)
