"""`dora-ros validate` and `dora-ros build` as a user runs them: the real console script."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dora_ros.runtime.build import build_argv, find_uv
from dora_ros.runtime.commands import parse_duration

DORA_ROS = str(Path(sys.executable).with_name("dora-ros"))
GRAPHS = Path(__file__).parent / "graphs"


def dora_ros(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DORA_ROS, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def write_graph(folder: Path, text: str) -> None:
    (folder / "graph.yml").write_text(textwrap.dedent(text).lstrip())
    (folder / "node.py").write_text("print('hi')\n")


def test_validate_ok(tmp_path: Path) -> None:
    write_graph(
        tmp_path,
        """
        nodes:
          - id: camera
            path: node.py
            outputs: [image]
          - id: plot
            path: node.py
            inputs:
              image: camera/image
        """,
    )
    result = dora_ros("validate", "graph.yml", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "graph.yml: ok (2 nodes)\n", "")


def test_validate_fixture_graph(tmp_path: Path) -> None:
    result = dora_ros("validate", str(GRAPHS / "full.yml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{GRAPHS / 'full.yml'}: ok (4 nodes)\n"


def test_validate_error_is_one_line(tmp_path: Path) -> None:
    write_graph(
        tmp_path,
        """
        nodes:
          - id: camera
            path: node.py
            outputs: [image]
          - id: plot
            path: node.py
            inputs:
              tick: camera/timer/millis/x
        """,
    )
    result = dora_ros("validate", "graph.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: graph.yml:8: node 'plot': input 'tick' names unknown output "
        "'camera/timer/millis/x' (node 'camera' declares 'image')\n"
    )


def test_validate_missing_file(tmp_path: Path) -> None:
    result = dora_ros("validate", "nope.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: nope.yml: cannot read: No such file or directory\n"


def test_build_runs_lines_in_graph_folder_with_node_env(tmp_path: Path) -> None:
    write_graph(
        tmp_path,
        """
        env:
          WHO: world
        nodes:
          - id: first
            path: node.py
            env:
              GREETING: hello
            build: |
              sh -c 'echo "$GREETING $WHO from $(pwd)" > built.txt'

              python -c "import sys; print('python', sys.prefix)"
          - id: second
            path: node.py
            build: pip --version
        """,
    )
    result = dora_ros("build", str(tmp_path / "graph.yml"), cwd=Path("/"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "built.txt").read_text() == f"hello world from {tmp_path.resolve()}\n"
    lines = result.stdout.splitlines()
    assert lines[0] == """first: $ sh -c 'echo "$GREETING $WHO from $(pwd)" > built.txt'"""
    assert lines[1] == """first: $ python -c "import sys; print('python', sys.prefix)\""""
    # `python` and `pip` are the interpreter running dora-ros: the one that runs .py nodes.
    assert lines[2] == f"first: python {sys.prefix}"
    assert lines[3] == "second: $ pip --version"
    assert lines[4].startswith("second: pip ") and f" from {sys.prefix}/" in lines[4]
    assert lines[5] == f"{tmp_path / 'graph.yml'}: built (3 commands)"


def test_build_stops_at_first_failure(tmp_path: Path) -> None:
    write_graph(
        tmp_path,
        """
        nodes:
          - id: broken
            path: node.py
            build: |
              sh -c 'echo compiling; exit 3'
              touch not-reached-1
          - id: later
            path: node.py
            build: touch not-reached-2
        """,
    )
    result = dora_ros("build", "graph.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "broken: $ sh -c 'echo compiling; exit 3'",
        "broken: compiling",
    ]
    # The command as written, last, with no quotes of ours around its own.
    assert result.stderr == (
        "error: graph.yml:2: node 'broken': build command failed with exit status 3: "
        "sh -c 'echo compiling; exit 3'\n"
    )
    assert not (tmp_path / "not-reached-1").exists()
    assert not (tmp_path / "not-reached-2").exists()


def test_build_missing_program(tmp_path: Path) -> None:
    write_graph(
        tmp_path,
        """
        nodes:
          - id: a
            path: node.py
            build: dora-ros-no-such-program --flag
        """,
    )
    result = dora_ros("build", "graph.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: graph.yml:2: node 'a': build command cannot start: No such file or directory"
        " (dora-ros-no-such-program): dora-ros-no-such-program --flag\n"
    )


def test_build_refuses_an_invalid_graph(tmp_path: Path) -> None:
    write_graph(
        tmp_path,
        """
        nodes:
          - id: a
            path: node.py
            buld: touch x
        """,
    )
    result = dora_ros("build", "graph.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr
        == "error: graph.yml:4: node 'a': unknown key 'buld' (did you mean 'build'?)\n"
    )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("line", "uv", "argv"),
    [
        ("pip install -e .", False, [sys.executable, "-m", "pip", "install", "-e", "."]),
        ("pip3 install numpy", False, [sys.executable, "-m", "pip", "install", "numpy"]),
        (
            "pip install numpy",
            True,
            [find_uv() or "uv", "pip", "install", "numpy", "--python", sys.executable],
        ),
        ("python3 setup.py", False, [sys.executable, "setup.py"]),
        ("cargo build --release", True, ["cargo", "build", "--release"]),
        ("""echo 'a b' "c d" e\\ f""", False, ["echo", "a b", "c d", "e f"]),
    ],
)
def test_build_argv(line: str, uv: bool, argv: list[str]) -> None:
    assert build_argv(line, uv=uv) == argv


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("500ms", 0.5), ("2m", 120.0), ("1.5", 1.5), ("1h", 3600.0), (".25s", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "10 days", "-1s", "1.5.2"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_run_rejects_a_bad_duration_and_a_bad_graph(tmp_path: Path) -> None:
    write_graph(tmp_path, "nodes:\n  - id: a\n    path: nodee.py\n")
    result = dora_ros("run", "graph.yml", "--stop-after", "soon", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid duration 'soon' (use e.g. 10s, 500ms, 2m or 1.5)" in result.stderr
    result = dora_ros("run", "graph.yml", "--stop-after", "1s", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: graph.yml:3: node 'a': path 'nodee.py' does not exist "
        f"(looked in {tmp_path.resolve()})\n"
    )


@pytest.mark.parametrize("command", ["run", "expand", "validate", "build"])
def test_help_has_an_example(command: str, tmp_path: Path) -> None:
    # Before: these four had none (every other command has one).
    result = dora_ros(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout
    assert f"$ dora-ros {command} graph.yml" in result.stdout
