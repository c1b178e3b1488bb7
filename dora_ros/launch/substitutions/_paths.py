"""Substitutions that find packages, files and executables or read them: `$(find-pkg-share)`,
`$(exec-in-pkg)`, `$(command)`, `$(file-content)`, path and string joins, the launch file's name."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, SubstitutionError
from ._base import Substitution, normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext


def _package_prefix(package: str) -> str:
    """The install prefix of `package` from the ament index (`AMENT_PREFIX_PATH`)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    where = os.environ.get("AMENT_PREFIX_PATH", "")
    if not where.strip(os.pathsep):
        # ament_index_python raises a bare OSError here; say what to do instead
        raise NotFoundError(
            f"cannot look up package '{package}': AMENT_PREFIX_PATH is not set; source a ROS 2 "
            f"setup (/opt/ros/<distro>/setup.bash) or set AMENT_PREFIX_PATH (the ROS 2 packages "
            f"pip installed with dora-ros are under {sys.prefix})"
        )
    try:
        return str(get_package_prefix(package))
    except (PackageNotFoundError, LookupError, ValueError) as err:
        raise NotFoundError(f"package '{package}' not found (AMENT_PREFIX_PATH={where})") from err


class FindPackagePrefix(Substitution):
    """`$(find-pkg-prefix pkg)`."""

    def __init__(self, package: Any) -> None:
        self.package = normalize(package)

    def perform(self, context: LaunchContext) -> str:
        return self.find(perform(context, self.package))

    def find(self, package_name: str) -> str:
        """The path for `package_name`, without a launch context (ROS 2's `.find()`)."""
        return _package_prefix(package_name)


class FindPackageShare(FindPackagePrefix):
    """`$(find-pkg-share pkg)`."""

    def find(self, package_name: str) -> str:
        return os.path.join(_package_prefix(package_name), "share", package_name)


class FindExecutable(Substitution):
    """`$(find-exec name)`: the executable on the PATH."""

    def __init__(self, *, name: Any) -> None:
        self.name = normalize(name)

    def perform(self, context: LaunchContext) -> str:
        name = perform(context, self.name)
        found = shutil.which(name, path=context.environment.get("PATH"))
        if found is None:
            raise NotFoundError(f"executable '{name}' not found on the PATH")
        return found


class Command(Substitution):
    """`$(command 'cmd args' [fail|warn|ignore|capture])`: the command's standard output."""

    def __init__(self, command: Any, *, on_stderr: Any = "fail") -> None:
        self.command = normalize(command)
        self.on_stderr = normalize(on_stderr)

    def perform(self, context: LaunchContext) -> str:
        text = perform(context, self.command)
        if not context.shared.run_commands:
            # `--print` without `--eval`: show the command, do not run it (it may have effects).
            context.shared.note(f"not run (pass --eval to run it): $(command '{text}')")
            return f"<output of: {text}>"
        mode = perform(context, self.on_stderr)
        if mode not in ("fail", "warn", "ignore", "capture"):
            raise SubstitutionError(
                f"command: on_stderr must be fail, warn, ignore or capture, got '{mode}'"
            )
        try:
            words = shlex.split(text)
        except ValueError as err:
            raise SubstitutionError(f"command '{text}' cannot be split into words: {err}") from None
        try:
            result = subprocess.run(
                words,
                capture_output=True,
                text=True,
                env=dict(context.environment),
                check=False,
            )
        except OSError as err:
            raise SubstitutionError(f"command '{text}' cannot run: {err.strerror}") from err
        if result.returncode != 0:
            raise SubstitutionError(
                f"command '{text}' failed with exit code {result.returncode}: "
                f"{result.stderr.strip()}"
            )
        if result.stderr and mode == "fail":
            raise SubstitutionError(f"command '{text}' wrote to stderr: {result.stderr.strip()}")
        if mode == "warn" and result.stderr:
            context.log_warning(f"command '{text}' wrote to stderr: {result.stderr.strip()}")
        return result.stdout + (result.stderr if mode == "capture" else "")


class ThisLaunchFile(Substitution):
    """`$(filename)`: the path of the launch file being read."""

    def perform(self, context: LaunchContext) -> str:
        if context.current_file is None:
            raise SubstitutionError("filename: used outside of a launch file")
        return context.current_file


class ThisLaunchFileDir(Substitution):
    """`$(dirname)`: the folder of the launch file being read."""

    def perform(self, context: LaunchContext) -> str:
        if context.current_file is None:
            raise SubstitutionError("dirname: used outside of a launch file")
        return os.path.dirname(context.current_file)


class PathJoinSubstitution(Substitution):
    """Join its parts with the path separator."""

    def __init__(self, substitutions: Sequence[Any]) -> None:
        self.substitutions = [normalize(s) for s in substitutions]

    def perform(self, context: LaunchContext) -> str:
        return os.path.join(*[perform(context, s) for s in self.substitutions])

    def __truediv__(self, other: Any) -> PathJoinSubstitution:
        return PathJoinSubstitution([*self.substitutions, other])


FindPackage = FindPackagePrefix  # the base of FindPackagePrefix/FindPackageShare in launch_ros


class PathSubstitution(PathJoinSubstitution):
    """A path to extend with `/` (`PathSubstitution(FindPackageShare('p')) / 'urdf' / 'r.xacro'`)."""

    def __init__(self, path: Any) -> None:
        super().__init__([path])


class StringJoinSubstitution(Substitution):
    """`$(string-join delimiter a b ...)`: the parts joined with `delimiter`."""

    def __init__(self, substitutions: Sequence[Any], delimiter: Any = "") -> None:
        self.substitutions = [normalize(s) for s in substitutions]
        self.delimiter = normalize(delimiter)

    def perform(self, context: LaunchContext) -> str:
        delimiter = perform(context, self.delimiter)
        return delimiter.join(perform(context, s) for s in self.substitutions)


class FileContent(Substitution):
    """`$(file-content path)`: the text of a file."""

    def __init__(self, path: Any) -> None:
        self.path = normalize(path)

    def perform(self, context: LaunchContext) -> str:
        path = perform(context, self.path)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as err:
            raise NotFoundError(f"file-content: cannot read '{path}': {err.strerror}") from None


class LaunchLogDir(Substitution):
    """`$(log_dir)` / `$(launch_log_dir)`: the launch's log folder."""

    def perform(self, context: LaunchContext) -> str:
        if context.shared.log_dir is None:
            raise SubstitutionError("log_dir: the launch has no log folder")
        return context.shared.log_dir


class ExecutableInPackage(Substitution):
    """`$(exec-in-pkg exec pkg)`: `<prefix>/lib/<pkg>/<exec>`."""

    def __init__(self, executable: Any, package: Any) -> None:
        self.executable = normalize(executable)
        self.package = normalize(package)

    def perform(self, context: LaunchContext) -> str:
        package = perform(context, self.package)
        executable = perform(context, self.executable)
        folder = os.path.join(_package_prefix(package), "lib", package)
        path = os.path.join(folder, executable)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise NotFoundError(
                f"executable '{executable}' not found in package '{package}' ({folder})"
            )
        return path
