"""Every `topic`, `record` and `replay` command answers --help with an example, quickly."""

from __future__ import annotations

from pathlib import Path

from toolrun import dora_ros

COMMANDS = [
    ("topic",),
    ("topic", "list"),
    ("topic", "echo"),
    ("topic", "hz"),
    ("topic", "info"),
    ("topic", "pub"),
    ("record",),
    ("replay",),
]


def test_help_has_an_example(tmp_path: Path) -> None:
    for command in COMMANDS:
        result = dora_ros(*command, "--help", cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert "Example" in result.stdout, command
        assert "$ dora-ros " + " ".join(command) in result.stdout or command == ("topic",), command
    top = dora_ros("--help", cwd=tmp_path).stdout
    for name in ("record", "replay", "topic"):
        assert f"\n  {name} " in top
