"""Real launch files: run `dora-ros launch --print` on every launch file of public ROS 2 projects.

The measure of issue 16: what share of the launch files of real projects resolve (or need only
the arguments their parent file gives), and that none crashes. The launch files stay outside the
project: `extract` copies them, with the package manifests and the files they read, from git
directories (such as those the `fetch` tool gives) into a corpus folder:

    python benchmarks/launch_corpus.py extract --corpus /work/launch_corpus \\
        demos=/work/.mirror/ros2+demos/repo nav2=/work/.mirror/ros-navigation+navigation2/repo

    python benchmarks/launch_corpus.py run --corpus /work/launch_corpus [--jobs 2] [--json out.json]

A project named `support-<name>` gives packages and Python modules only (ros2_control's
`controller_manager.launch_utils`, which ros2_control_demos imports); its launch files are not
counted.

`run` makes an ament prefix in a temporary folder: for every package of the corpus (a folder with a
`package.xml`) `share/<pkg>` holds links to the package's files, as an install of it would; each
package whose folder holds a Python package of its name goes on PYTHONPATH (nav2_common's
`RewrittenYaml`, for example). Then it runs `dora-ros launch <file> --print` on each launch file,
with a timeout, and reads the last line of its error output to add what a build or another
repository would provide, then runs it again:

- a package the corpus lacks becomes a stub package (`share/<pkg>/package.xml`), and launch and
  parameter files asked of a stub package become empty ones (an empty launch description, `{}`);
- an executable a package lacks becomes a stub script in `lib/<pkg>/` (nothing runs it: `--print`).

A file the corpus's own package lacks (generated at build time, downloaded models) is never made
up: the file is counted as needing an external file. Each file's last run is classified:

- resolved: exit status 0, no traceback, no Python object repr (`object at 0x`) in the output;
- needs-argument: one line `file:line: launch argument 'x' is required but was not given`. The
  harness runs it again with every missing argument given a placeholder, to tell whether only
  arguments are missing, and records which launch files each resolved run loaded: a file that
  needs arguments counts as resolved through a parent when a resolved run loaded it;
- needs-external: a file, Python module or model outside the fetched repositories;
- refused: one line naming file:line (a feature dora-ros refuses, a real mistake in the file);
- crash: a traceback, a hang (timeout), an error without a location, or output with an object repr.

To know which files a run loaded, each run goes through this script's `_child` mode, which wraps
`dora_ros.launch.launch_description_sources.load_launch_file` to append each path it loads to a
trace file, then runs the dora-ros CLI as usual.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

PYTHON = sys.executable
VENV_PREFIX = str(Path(sys.prefix))

# What `extract` copies besides launch files: what a package installs to its share folder and
# Python launch helpers read (parameter files, robot descriptions, rviz files, maps, modules).
KEEP_SUFFIXES = (
    ".py", ".xml", ".yaml", ".yml", ".urdf", ".xacro", ".srdf", ".rviz", ".json", ".param",
    ".csv", ".txt", ".sdf", ".world", ".pgm", ".lua", ".ini", ".cfg", ".launch", ".dae",
    ".stl", ".pcd", ".osm",
)  # fmt: skip
MAX_FILE_BYTES = 4_000_000
LAUNCH_NAME = re.compile(r"([._]launch\.(py|xml|ya?ml))$")
TEST_PART = re.compile(r"(^|/)(test|tests|launch_testing)/|_launch_test\.py$|(^|/)test_[^/]*$")
MAX_ATTEMPTS = 100  # stub rounds per file: a file naming more missing things than this is reported


def is_launch_path(path: str) -> bool:
    """A launch file by name (`*.launch.py`, `*_launch.xml`, ...) or a file in a `launch/` folder."""
    if TEST_PART.search(path):
        return False
    if LAUNCH_NAME.search(path):
        return True
    parent = path.rsplit("/", 2)
    return len(parent) >= 2 and parent[-2] == "launch" and path.endswith((".py", ".xml", ".yaml"))


def is_launch_text(path: str, text: str) -> bool:
    """Whether the file's content is a launch file (helpers in `launch/` folders are not)."""
    if path.endswith(".py"):
        return "def generate_launch_description" in text
    if path.endswith(".xml"):
        return re.search(r"<launch[\s>/]", text) is not None
    return re.search(r"^launch\s*:", text, re.MULTILINE) is not None


# ---------------------------------------------------------------------------------------------
# extract


def git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def extract(corpus: Path, sources: list[str]) -> None:
    """Copy launch files, package manifests and the files packages install, from git dirs."""
    for source in sources:
        name, _, git_dir = source.partition("=")
        if not git_dir:
            raise SystemExit(f"extract: '{source}': expected <project>=<git dir>")
        commit = git(git_dir, "rev-parse", "HEAD").strip()
        listing = git(git_dir, "ls-tree", "-r", "-l", "HEAD")
        wanted = []
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            kind, sha, size = meta.split()[1:4]
            if kind != "blob" or not size.isdigit() or int(size) > MAX_FILE_BYTES:
                continue
            if path.endswith("package.xml") or path.lower().endswith(KEEP_SUFFIXES):
                wanted.append((sha, path, meta.split()[0] == "120000"))
        target = corpus / name
        if target.exists():
            shutil.rmtree(target)
        batch = subprocess.run(
            ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
            input="".join(f"{sha}\n" for sha, _, _ in wanted).encode(),
            check=True,
            capture_output=True,
        ).stdout
        offset = 0
        for _, path, link in wanted:
            header_end = batch.index(b"\n", offset)
            size = int(batch[offset:header_end].split()[2])
            data = batch[header_end + 1 : header_end + 1 + size]
            offset = header_end + 1 + size + 1
            out = target / path
            out.parent.mkdir(parents=True, exist_ok=True)
            if link:  # a symbolic link in git: its blob is the target
                out.symlink_to(data.decode())
            else:
                out.write_bytes(data)
        date = git(git_dir, "log", "-1", "--format=%cs", "HEAD").strip()
        (target / "SOURCE.json").write_text(
            json.dumps({"git_dir": git_dir, "commit": commit, "date": date}, indent=1)
        )
        launches = len(find_launch_files(target))
        print(
            f"{name}: {len(wanted)} files, {launches} launch files, commit {commit[:10]} ({date})"
        )


def find_launch_files(project: Path) -> list[Path]:
    found = []
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project).as_posix()
        if path.is_file() and not path.is_symlink() and is_launch_path(rel):
            text = path.read_text(errors="replace")
            if is_launch_text(rel, text):
                found.append(path)
    return found


# ---------------------------------------------------------------------------------------------
# run


@dataclass
class Outcome:
    project: str
    file: str  # relative to the corpus
    status: str
    detail: str = ""  # the last error line, or the arguments given
    arguments: list[str] = field(default_factory=list)  # missing arguments (needs-argument)
    loaded: list[str] = field(default_factory=list)  # launch files a resolved run loaded
    seconds: float = 0.0
    attempts: int = 0
    parents: list[str] = field(default_factory=list)  # resolved runs that loaded this file
    placeholders_resolve: bool = False  # needs-argument: resolves once they are given
    named_by: list[str] = field(default_factory=list)  # launch files whose text names this one
    parent_arguments: list[str] = field(default_factory=list)  # given to the parent run


class Prefix:
    """The ament prefix: corpus packages linked into share/, stubs for the rest."""

    def __init__(self, root: Path, corpus: Path, stale: tuple[str, ...] = ()) -> None:
        self.root = root
        self.share = root / "share"
        self.marker = self.share / "ament_index" / "resource_index" / "packages"
        self.marker.mkdir(parents=True, exist_ok=True)
        self.corpus_packages: dict[str, Path] = {}
        self.stub_packages: set[str] = set()
        self.duplicates: list[str] = []
        self.dropped: list[Path] = []  # folders of packages found twice (the first is kept)
        self.stale_packages: set[str] = set()  # of projects older than the ones using them
        self.stubbed: set[str] = set()  # files made up in stale packages (reported)
        self.python_path: list[str] = []
        self.lock = threading.Lock()
        self.home = root.parent / "home"
        for manifest in sorted(corpus.rglob("package.xml")):
            match = re.search(r"<name>\s*([^<\s]+)\s*</name>", manifest.read_text(errors="replace"))
            if match is None:
                continue
            name, folder = match.group(1), manifest.parent
            if name in self.corpus_packages:
                self.duplicates.append(f"{name}: {folder} (kept {self.corpus_packages[name]})")
                self.dropped.append(folder)
                continue
            self.corpus_packages[name] = folder
            (self.marker / name).write_text("")
            share = self.share / name
            share.mkdir(parents=True)
            if manifest.relative_to(corpus).parts[0] in stale:
                # real folders, linked files: files the package lacks can be added as stubs
                self.stale_packages.add(name)
                for source in folder.rglob("*"):
                    if source.is_file():
                        target = share / source.relative_to(folder)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.symlink_to(source)
            else:
                for entry in folder.iterdir():
                    (share / entry.name).symlink_to(entry)
            self._install_rules(name, folder, share)
            (root / "lib" / name).mkdir(parents=True, exist_ok=True)
            if (folder / name / "__init__.py").is_file():
                self.python_path.append(str(folder))

    def _install_rules(self, name: str, folder: Path, share: Path) -> None:
        """Also place files where the package's build installs them (beside the package's own
        layout, which `share/<pkg>` mirrors): CMake's `install(DIRECTORY a/ b DESTINATION
        share/${PROJECT_NAME})` and setup.py's `data_files` globs."""
        cmake = folder / "CMakeLists.txt"
        if cmake.is_file():
            text = cmake.read_text(errors="replace")
            for match in CMAKE_INSTALL.finditer(text):
                items, sub = match.group(1).split(), (match.group(3) or "").strip("/")
                for item in items:
                    source = folder / item.rstrip("/")
                    if not source.is_dir():
                        continue
                    target = share / sub
                    if item.endswith("/"):
                        for child in source.iterdir():
                            self._link(child, target / child.name, share)
                    else:
                        self._link(source, target / source.name, share)
        setup = folder / "setup.py"
        if setup.is_file():
            text = setup.read_text(errors="replace")
            for match in SETUP_DATA.finditer(text):
                dest = [p for p in QUOTED.findall(match.group(1)) if p != "share"]
                dest = [p for p in "/".join(dest).split("/") if p and "{" not in p]
                if (
                    match.group(1)
                    .lstrip()
                    .startswith(("'share/", '"share/', "f'share/", 'f"share/'))
                ):
                    dest = dest[1:] if dest and dest[0] == name else dest
                pattern = "/".join(QUOTED.findall(match.group(2)))
                for source in folder.glob(pattern):
                    if source.is_file():
                        self._link(source, share.joinpath(*dest) / source.name, share)

    @staticmethod
    def _link(source: Path, target: Path, share: Path) -> None:
        if target.exists() or target.is_symlink():
            return
        for parent in target.parents:  # never write through a link into the corpus
            if parent == share:
                break
            if parent.is_symlink():
                return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)

    def package_of(self, path: Path) -> str | None:
        for name, folder in self.corpus_packages.items():
            if folder in path.parents:
                return name
        return None

    def add_package(self, name: str) -> None:
        with self.lock:
            if name in self.corpus_packages or name in self.stub_packages:
                return
            self.stub_packages.add(name)
            (self.share / name).mkdir(parents=True, exist_ok=True)
            (self.share / name / "package.xml").write_text(
                f'<package format="3"><name>{name}</name><version>0.0.0</version></package>\n'
            )
            (self.root / "lib" / name).mkdir(parents=True, exist_ok=True)
            (self.marker / name).write_text("")

    def add_executable(self, package: str, name: str) -> None:
        with self.lock:
            path = self.root / "lib" / package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"#!/bin/sh\necho 'stub {package}/{name}' \"$@\"\n")
            path.chmod(0o755)

    def add_tool(self, name: str) -> None:
        """A stub for a tool a launch file finds on the PATH (`$(find-exec xacro)`)."""
        with self.lock:
            path = self.root / "bin" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"#!/bin/sh\necho 'stub {name}' \"$@\"\n")
            path.chmod(0o755)

    def owner(self, path: Path) -> str | None:
        """The package a file (in the prefix or the corpus) belongs to."""
        try:
            return path.relative_to(self.share).parts[0]
        except (ValueError, IndexError):
            return self.package_of(path)

    def stub_file(self, path: Path, asked_by: str | None = None) -> bool:
        """Make an empty file of a stub package; False when the path is not a stub's to make."""
        if self.home in path.parents:
            pass  # downloaded data (autoware's models under ~/autoware_data): a stub copy
        else:
            try:
                package = path.relative_to(self.share).parts[0]
            except (ValueError, IndexError):
                return False
            if package in self.stale_packages and asked_by not in (None, *self.stale_packages):
                # a newer project asks a stale package for a file it gained since
                self.stubbed.add(str(path.relative_to(self.share)))
            elif package not in self.stub_packages:
                return False
        with self.lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".py":
                text = (
                    "from launch import LaunchDescription\n\n\n"
                    "def generate_launch_description():\n    return LaunchDescription()\n"
                )
            elif path.suffix == ".xml" and "launch" in path.name:
                text = "<launch/>\n"
            elif path.suffix in (".yaml", ".yml") and "launch" in path.name:
                text = "launch: []\n"
            elif path.suffix in (".yaml", ".yml", ".param"):
                text = "/**:\n  ros__parameters: {}\n"
            else:
                text = ""
            path.write_text(text)
        return True


# A declared argument without default, or a configuration used but declared by the parent only
CMAKE_INSTALL = re.compile(
    r"install\s*\(\s*DIRECTORY\s+([^)]*?)\s+DESTINATION\s+share/(\$\{PROJECT_NAME\}|[\w-]+)(/[^\s)]*)?",
    re.S,
)
SETUP_DATA = re.compile(
    r"\(\s*((?:os\.path\.join\([^()]*\))|f?['\"][^'\"]*['\"])\s*,\s*glob\(([^()]*(?:\([^()]*\))?[^()]*)\)"
)
QUOTED = re.compile(r"f?['\"]([^'\"]*)['\"]")
MISSING_ARGUMENT = re.compile(
    r"launch argument '([^']+)' is required but was not given|launch configuration '([^']+)' does not exist"
)
LOCATED = re.compile(r"^(error: )?(\S+?):(\d+): ")
PACKAGE = re.compile(r"package '([^']+)' not found")
EXECUTABLE = re.compile(r"executable '([^']+)' not found in package '([^']+)'")
LAUNCH_IN_PACKAGE = re.compile(r"launch file '([^']+)' not found in package '([^']+)' \(([^)]+)\)")
QUOTED_PATH = re.compile(r"'(/[^']+)'")
ON_PATH = re.compile(r"executable '([^']+)' not found on the PATH")
EXTERNAL = re.compile(r"No module named|not found|cannot read|No such file")


def last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class Runner:
    def __init__(self, corpus: Path, prefix: Prefix, work: Path, timeout: float) -> None:
        self.corpus = corpus
        self.prefix = prefix
        self.work = work
        self.timeout = timeout
        self.env = dict(os.environ)
        self.env.update(
            AMENT_PREFIX_PATH=f"{prefix.root}:{VENV_PREFIX}",
            PATH=f"{prefix.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=os.pathsep.join(
                [*prefix.python_path, *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            ROS_LOG_DIR=str(work / "log"),
            ROS_HOME=str(work / "home"),
            HOME=str(work / "home"),  # some files read ~/...; keep the study's off the user's home
            USER=os.environ.get("USER", "corpus"),  # a login shell's; files read it (ros2launch's)
        )
        self.counter = 0
        self.lock = threading.Lock()

    def launch(self, path: Path, arguments: list[str]) -> tuple[int | None, str, str, list[str]]:
        with self.lock:
            self.counter += 1
            trace = self.work / "traces" / f"{self.counter}.txt"
        trace.parent.mkdir(exist_ok=True)
        command = [PYTHON, __file__, "_child", str(trace), str(path), *arguments, "--print"]
        try:
            done = subprocess.run(
                command,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                cwd=self.work,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as err:
            out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
            return None, out, f"timeout after {self.timeout} s", []
        loaded = trace.read_text().splitlines() if trace.exists() else []
        return done.returncode, done.stdout, done.stderr, loaded

    def placeholder(self, name: str) -> str:
        """A value for a missing argument, by the kind its name says: a file, a flag, a word."""
        low = name.lower()
        if low.endswith(("_path", "_file", "param", "_dir", "_directory")) or "param_path" in low:
            if "map_path" in low or low.endswith(("_dir", "_directory")):
                folder = self.work / "placeholder" / "folder"
                folder.mkdir(parents=True, exist_ok=True)
                return str(folder)
            return str(self.placeholder_file())
        if low.split("/")[-1].startswith(("use_", "enable_", "is_", "launch_", "with_")):
            return "false"
        return "stub"

    def placeholder_file(self) -> Path:
        path = self.work / "placeholder" / "params.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/**:\n  ros__parameters: {}\n")
        return path

    def retype_placeholders(self, line: str, arguments: list[str]) -> bool:
        """A placeholder used as a condition or a file: give the arguments of that line the kind
        it needs (`false`, an empty parameter file); False when nothing changed."""
        kind = None
        if "condition 'stub' is not valid" in line:
            kind = "false"
        elif re.search(r"(parameter file|cannot read|No such file).*'stub'", line):
            kind = str(self.placeholder_file())
        located = LOCATED.match(line)
        if kind is None or located is None:
            return False
        try:
            text = Path(located.group(2)).read_text(errors="replace").splitlines()
            source = text[int(located.group(3)) - 1]
        except (OSError, IndexError):
            return False
        names = set(re.findall(r"\$\(var ([^)\s]+)\)", source))
        names |= set(re.findall(r"LaunchConfiguration\(\s*['\"]([^'\"]+)['\"]", source))
        changed = False
        for i, argument in enumerate(arguments):
            name, _, value = argument.partition(":=")
            if name in names and value == "stub":
                arguments[i] = f"{name}:={kind}"
                changed = True
        return changed

    def required_arguments(self, path: Path) -> list[str]:
        """The arguments `--show-args` lists as required."""
        done = subprocess.run(
            [PYTHON, "-m", "dora_ros.cli", "launch", str(path), "--show-args"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            cwd=self.work,
        )
        names = re.findall(
            r"^    '([^']+)':\n(?:        .*\n)*?        \(required\)", done.stdout, re.M
        )
        return names

    def stub_for(self, line: str) -> bool:
        """Add what the error line says is missing, if a build or another repository gives it."""
        located = LOCATED.match(line)
        asked_by = self.prefix.owner(Path(located.group(2))) if located else None
        if match := EXECUTABLE.search(line):
            name, package = match.groups()
            self.prefix.add_package(package)
            self.prefix.add_executable(package, name)
            return True
        if match := ON_PATH.search(line):
            self.prefix.add_tool(match.group(1))
            return True
        if match := LAUNCH_IN_PACKAGE.search(line):
            name, package, share = match.groups()
            return self.prefix.stub_file(Path(share) / "launch" / name, asked_by)
        if match := PACKAGE.search(line):
            package = match.group(1)
            if package in self.prefix.corpus_packages:
                return False
            self.prefix.add_package(package)  # or another run made it a moment ago: run again
            return True
        for match in QUOTED_PATH.finditer(line):
            if "not found" in line or "cannot read" in line or "No such file" in line:
                if self.prefix.stub_file(Path(match.group(1)), asked_by):
                    return True
        return False

    def run_file(self, project: str, path: Path) -> Outcome:
        rel = path.relative_to(self.corpus).as_posix()
        started = time.monotonic()
        arguments: list[str] = []
        missing: list[str] = []
        attempts = 0
        while True:
            attempts += 1
            code, out, err, loaded = self.launch(path, arguments)
            line = last_line(err)
            outcome = Outcome(project, rel, "", line, list(missing), attempts=attempts)
            outcome.seconds = round(time.monotonic() - started, 2)
            if attempts >= MAX_ATTEMPTS:
                outcome.status = "needs-argument" if MISSING_ARGUMENT.search(line) else "crash"
                outcome.detail = f"gave up after {attempts} runs: {line}"
                return outcome
            if code is None:
                outcome.status = "crash"
                return outcome
            if "Traceback (most recent call last)" in err:
                outcome.status = "crash"
                outcome.detail = err.strip().splitlines()[-1]
                return outcome
            if code == 0:
                if "object at 0x" in out:
                    outcome.status = "crash"
                    outcome.detail = "object repr in the output: " + next(
                        x for x in out.splitlines() if "object at 0x" in x
                    )
                    return outcome
                outcome.status = "needs-argument" if missing else "resolved"
                outcome.placeholders_resolve = bool(missing)
                outcome.arguments = list(arguments)
                outcome.detail = " ".join(arguments)
                outcome.loaded = loaded
                return outcome
            if self.stub_for(line):
                continue
            if match := MISSING_ARGUMENT.search(line):
                name = match.group(1) or match.group(2)
                if not missing:  # the file's own required arguments at once (--show-args)
                    for required in self.required_arguments(path):
                        if required != name:
                            missing.append(required)
                            arguments.append(f"{required}:={self.placeholder(required)}")
                if name not in missing:
                    missing.append(name)
                    arguments.append(f"{name}:={self.placeholder(name)}")
                    continue
            if missing and self.retype_placeholders(line, arguments):
                continue
            if missing:
                # it needs arguments, and with placeholders it stops on something else: report that
                outcome.status = "needs-argument"
                outcome.detail = f"with {len(arguments)} placeholder arguments: {line}"
                return outcome
            if not LOCATED.match(line):
                outcome.status = "crash"
                outcome.detail = f"unlocated: {line}"
                return outcome
            if EXTERNAL.search(line):
                outcome.status = "needs-external"
                return outcome
            outcome.status = "refused"
            return outcome


def child(trace: str, argv: list[str]) -> None:
    """Run `dora-ros launch ARGV`, appending each launch file it opens to `trace`.

    An audit hook sees the files opened, without a frame of ours on the stack (dora-ros names
    the first frame outside itself as the line that made an action).
    """
    from dora_ros import cli

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "open" and isinstance(args[0], str) and is_launch_path(args[0]):
            with open(trace, "a") as f:
                f.write(os.path.abspath(args[0]) + "\n")

    sys.addaudithook(hook)
    sys.argv = ["dora-ros", "launch", *argv]
    cli.main()


def link_parents(
    outcomes: list[Outcome], corpus: Path, prefix: Prefix, runner: Runner, jobs: int
) -> None:
    """Credit each file that needs arguments to a run of a parent that loaded it.

    Trusted runs: every file resolved with its defaults, and each top-level file (no other file
    names it) that resolves once its required arguments are given (what its user passes, such as
    autoware's `map_path`). Files they load are resolved through them. Then, for files still not
    credited, each XML parent's `<include>` says which arguments choose it: `if="$(var x)"` gives
    `x:=true`, `unless` `x:=false`, `'$(var x)' == 'v'` `x:=v`, and a computed file name
    (`$(var sensor_model)_launch/...`) the values that make it; the parent's trusted root runs
    again with them.
    """
    by_path = {os.path.realpath(corpus / o.file): o for o in outcomes}
    texts = {path: Path(path).read_text(errors="replace") for path in by_path}
    for path, outcome in by_path.items():
        base = os.path.basename(path)
        outcome.named_by = sorted(
            by_path[other].file for other, text in texts.items() if other != path and base in text
        )
    roots: dict[str, list[str]] = {}  # trusted run's file -> its arguments
    for outcome in outcomes:
        if outcome.status == "resolved":
            roots[outcome.file] = []
        elif outcome.placeholders_resolve and not outcome.named_by:
            roots[outcome.file] = outcome.arguments
    root_of: dict[str, tuple[str, list[str]]] = {}  # file -> a trusted run that loaded it

    def credit(root: str, arguments: list[str], loaded: list[str]) -> int:
        newly = 0
        for path in loaded:
            child = by_path.get(os.path.realpath(path))
            if child is None or child.file == root:
                continue
            root_of.setdefault(child.file, (root, arguments))
            if child.status == "needs-argument" and root not in child.parents:
                newly += not child.parents
                child.parents.append(root)
                child.parent_arguments = arguments
        return newly

    for outcome in outcomes:
        if outcome.file in roots:
            root_of.setdefault(outcome.file, (outcome.file, roots[outcome.file]))
            credit(outcome.file, roots[outcome.file], outcome.loaded)
    for _ in range(4):  # a file credited this round may choose its own children next round
        tasks: dict[tuple[str, tuple[str, ...]], None] = {}
        for outcome in outcomes:
            if outcome.status != "needs-argument" or outcome.parents:
                continue
            for parent in outcome.named_by:
                if parent not in root_of or not parent.endswith(".xml"):
                    continue
                chosen = choosing_arguments(corpus / parent, corpus / outcome.file, prefix)
                if chosen is None:
                    continue
                root, root_arguments = root_of[parent]
                given = dict(a.split(":=", 1) for a in root_arguments)
                given.update(chosen)
                tasks[(root, tuple(f"{k}:={v}" for k, v in given.items()))] = None
        if not tasks:
            break

        def rerun(task: tuple[str, tuple[str, ...]]) -> tuple[str, list[str], list[str]]:
            code, _, _, loaded = runner.launch(corpus / task[0], list(task[1]))
            return task[0], list(task[1]), loaded if code == 0 else []

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            results = list(pool.map(rerun, tasks))
        if not sum(credit(*result) for result in results):
            break


def _close(text: str, start: int) -> int:
    """The index of the `)` closing the `$(` at `start`."""
    depth = 0
    for i in range(start + 1, len(text)):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            return i
    return len(text) - 1


def _path_pattern(text: str, names: set[str]) -> str:
    out, i = [], 0
    while i < len(text):
        if text.startswith("$(", i):
            end = _close(text, i + 1)
            kind, _, rest = text[i + 2 : end].strip().partition(" ")
            if kind == "var":
                name = re.sub(r"\W", "_", rest.strip())
                out.append(f"(?P={name})" if name in names else f"(?P<{name}>[\\w.-]+)")
                names.add(name)
            elif kind == "find-pkg-share":
                out.append(".*/share/" + _path_pattern(rest.strip(), names))
            else:
                out.append(".*")
            i = end + 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return "".join(out)


def choosing_arguments(parent: Path, child: Path, prefix: Prefix) -> dict[str, str] | None:
    """The arguments that make `parent` include `child`, read from its XML; None if not found."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(parent).getroot()
    except (ET.ParseError, OSError):
        return None
    package = prefix.package_of(child)
    if package is None:
        return None
    installed = f"/share/{package}/" + child.relative_to(prefix.corpus_packages[package]).as_posix()
    outer = {inner: node for node in root.iter() for inner in node}
    for include in root.iter("include"):
        names: set[str] = set()
        pattern = _path_pattern(include.get("file", ""), names)
        match = re.fullmatch(pattern, installed) or re.fullmatch(pattern, "/" + child.name)
        if match is None and not include.get("file", "").endswith("/" + child.name):
            continue
        chosen = {k: v for k, v in (match.groupdict() if match else {}).items()}
        node = include
        while node is not None:
            for attribute, truth in (("if", "true"), ("unless", "false")):
                condition = node.get(attribute)
                if condition is None:
                    continue
                if m := re.fullmatch(r"\$\(var ([\w/]+)\)", condition.strip()):
                    chosen[m.group(1)] = truth
                for m in re.finditer(r"'\$\(var ([\w/]+)\)'\s*(==|!=)\s*'([^']*)'", condition):
                    if (m.group(2) == "==") == (attribute == "if"):
                        chosen[m.group(1)] = m.group(3)
            node = outer.get(node)
        return chosen
    return None


STATUSES = (
    "resolved", "via-parent", "user-args", "args-only", "needs-argument", "needs-external",
    "refused", "crash",
)  # fmt: skip


def shown_status(outcome: Outcome) -> str:
    """The column of a file: needs-argument splits by whether, and how, it was seen resolved."""
    if outcome.status != "needs-argument":
        return outcome.status
    if outcome.parents:
        return "via-parent"
    if outcome.placeholders_resolve:
        return "args-only" if outcome.named_by else "user-args"
    return "needs-argument"


def report(outcomes: list[Outcome], corpus: Path, command: str) -> None:
    by_project: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes:
        status = outcome.status
        status = shown_status(outcome)
        by_project[outcome.project][status] += 1
    header = f"{'project':<20}{'files':>6}" + "".join(f"{s:>15}" for s in STATUSES)
    header += f"{'ok':>6}{'ok+args':>8}"
    print(header)
    total: Counter[str] = Counter()
    for project in sorted(by_project):
        counts = by_project[project]
        total.update(counts)
        print(row(project, counts))
    print(row("total", total))
    print(f"\n{command}  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    for project in sorted(by_project):
        source = corpus / project / "SOURCE.json"
        if source.exists():
            info = json.loads(source.read_text())
            print(f"  {project}: {info['git_dir']} @ {info['commit'][:10]} ({info['date']})")
    print("ok: resolved alone, through a parent run that loaded the file (via-parent), or, named")
    print("by no other file, once its required arguments get placeholders (user-args: map_path);")
    print("ok+args: also args-only (resolves when its missing arguments get placeholders, and")
    print("another launch file names it: a parent that gives them exists, unverified)")


def row(name: str, counts: Counter[str]) -> str:
    files = sum(counts.values())
    ok = counts["resolved"] + counts["via-parent"] + counts["user-args"]
    more = ok + counts["args-only"]
    share = f"{100 * ok / files:.0f}%" if files else "-"
    share_more = f"{100 * more / files:.0f}%" if files else "-"
    text = f"{name:<20}{files:>6}" + "".join(f"{counts[s]:>15}" for s in STATUSES)
    return text + f"{share:>6}{share_more:>8}"


def run(args: argparse.Namespace) -> int:
    corpus = Path(args.corpus).resolve()
    # `support-<name>` projects give packages and Python modules (ros2_control's
    # controller_manager.launch_utils) but their launch files are not counted
    projects = sorted(
        p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("support-")
    )
    if args.project:
        projects = [p for p in projects if p.name in args.project]
    work = Path(tempfile.mkdtemp(prefix="launch_corpus_"))
    try:
        prefix = Prefix(work / "prefix", corpus, tuple(args.stale or ()))
        runner = Runner(corpus, prefix, work, args.timeout)
        files = [
            (p.name, f)
            for p in projects
            for f in find_launch_files(p)
            if not any(folder in f.parents for folder in prefix.dropped)
        ]
        if args.only:
            files = [(p, f) for p, f in files if args.only in str(f)]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(lambda pf: runner.run_file(*pf), files))
        link_parents(outcomes, corpus, prefix, runner, args.jobs)
        if args.verbose:
            for outcome in outcomes:
                status = shown_status(outcome)
                if status not in ("resolved", "via-parent", "user-args"):
                    print(f"{status:<15} {outcome.file}: {outcome.detail}")
            print()
        command = "python benchmarks/launch_corpus.py run --corpus " + args.corpus
        command += "".join(f" --stale {name}" for name in args.stale or ())
        report(outcomes, corpus, command)
        if prefix.stubbed:
            print(f"stub files in stale packages ({len(prefix.stubbed)}):")
            for name in sorted(prefix.stubbed):
                print(f"  share/{name}")
        if prefix.duplicates:
            print(
                f"{len(prefix.duplicates)} packages found twice; the first is kept, the launch files"
            )
            print("of the other copy are not counted: " + "; ".join(prefix.duplicates))
        if args.json:
            Path(args.json).write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
        return 1 if any(o.status == "crash" for o in outcomes) else 0
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        child(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ext = sub.add_parser("extract", help="copy launch files and package files out of git dirs")
    ext.add_argument("--corpus", required=True)
    ext.add_argument("sources", nargs="+", help="<project>=<git dir>")
    go = sub.add_parser("run", help="run dora-ros launch --print on every launch file")
    go.add_argument("--corpus", required=True)
    go.add_argument("--project", action="append", help="only this project (repeatable)")
    go.add_argument("--only", help="only files whose path contains this text")
    go.add_argument("--timeout", type=float, default=60.0)
    go.add_argument("--jobs", type=int, default=2)
    go.add_argument("--json", help="write every outcome to this file")
    go.add_argument(
        "--stale",
        action="append",
        help="a project older than those including its files (repeatable): a launch or parameter"
        " file its packages lack is a stub, listed in the output",
    )
    go.add_argument("--keep", action="store_true", help="keep the work folder (prefix, traces)")
    go.add_argument("-v", "--verbose", action="store_true", help="list every file not resolved")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract(Path(args.corpus), args.sources)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
