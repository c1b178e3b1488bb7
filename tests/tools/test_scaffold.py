"""`dora-ros new`: the projects it creates run, and their own tests pass, as created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from toolrun import dora_ros


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_new_dataflow_runs_and_its_test_passes(tmp_path: Path) -> None:
    created = dora_ros("new", "my_robot", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "my_robot"
    assert created.stdout.splitlines()[0] == "created dataflow project my_robot/ (5 files):"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "README.md",
        "dataflow.yml",
        "nodes/listener.py",
        "nodes/talker.py",
        "tests/test_dataflow.py",
    ]
    assert dora_ros("validate", "dataflow.yml", cwd=project).returncode == 0
    run = dora_ros(
        "run",
        "dataflow.yml",
        "--stop-after",
        "30s",
        "--out-dir",
        str(tmp_path / "out"),
        cwd=project,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    got = [line for line in run.stdout.splitlines() if line.startswith("listener:")]
    assert got == [f"listener: got {n} (from talker)" for n in range(1, 6)]
    tested = _pytest(project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def test_new_node_test_passes(tmp_path: Path) -> None:
    created = dora_ros("new", "my-filter", "--kind", "node", "--lang", "python", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "my-filter"
    assert (project / "my_filter" / "main.py").is_file()
    assert 'my-filter = "my_filter.main:main"' in (project / "pyproject.toml").read_text()
    run = dora_ros(
        "run",
        "tests/graph.yml",
        "--stop-after",
        "30s",
        "--out-dir",
        str(tmp_path / "out"),
        cwd=project,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert [line for line in run.stdout.splitlines() if line.startswith("check:")] == [
        "check: out 0: [2, 4, 6]",
        "check: out 1: [20]",
    ]
    tested = _pytest(project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def test_new_into_another_folder(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    created = dora_ros("new", "flow", "--path", "work", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "work" / "flow" / "dataflow.yml").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9lives"], "error: '9lives' is not a project name: a letter, then letters"),
        (["a/b"], "error: 'a/b' is not a project name"),
        (["taken"], "error: taken: already exists (choose another name or remove it)"),
        (["x", "--path", "nowhere"], "error: nowhere: no such folder"),
        (["x", "--kind", "plugin"], "Invalid value for '--kind': 'plugin' is not one of"),
        (["x", "--lang", "rust"], "Invalid value for '--lang': 'rust' is not 'python'"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = dora_ros("new", *args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    if message.startswith("error: "):
        assert result.stderr.splitlines() == [result.stderr.strip()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing written
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_help_has_examples(tmp_path: Path) -> None:
    result = dora_ros("new", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "dora-ros new my_filter --kind node" in result.stdout
