"""Lifecycle with real processes: shutdown escalation, respawn, required processes, orphans,
signals to the launcher, event handlers, timers, output and log files, exit status.

Timeouts are shortened through the `sigterm_timeout`/`sigkill_timeout` launch arguments.
"""

from __future__ import annotations

import os
import re
import signal
import time

from ament_workspace import Workspace, lines_of, pid_alive, stop, wait_for


def pids(text: str, word: str) -> list[int]:
    return [int(p) for p in re.findall(rf": {word} (\d+)", text)]


ESCALATION = """<launch>
  <arg name="sigterm_timeout" default="0.5"/>
  <arg name="sigkill_timeout" default="0.5"/>
  <node pkg="demo_pkg" exec="stub" exec_name="polite" args="--record {rec}/polite" output="screen"/>
  <node pkg="demo_pkg" exec="stub" exec_name="noint" args="--ignore INT --record {rec}/noint" output="screen"/>
  <node pkg="demo_pkg" exec="stub" exec_name="deaf" args="--ignore INT,TERM --record {rec}/deaf" output="screen"/>
</launch>
"""


def test_shutdown_escalates_sigint_sigterm_sigkill(ws: Workspace) -> None:
    ws.add_launch("esc.launch.xml", ESCALATION.format(rec=ws.root))
    launcher = ws.start("demo_pkg", "esc.launch.xml")
    wait_for(lambda: all(lines_of(ws.root / n) for n in ("polite", "noint", "deaf")))
    started = time.monotonic()
    out, err = stop(launcher, signal.SIGINT)
    elapsed = time.monotonic() - started
    assert launcher.returncode == 0, err
    assert lines_of(ws.root / "polite")[1:] == ["got SIGINT"]
    assert lines_of(ws.root / "noint")[1:] == ["ignored SIGINT", "got SIGTERM"]
    assert lines_of(ws.root / "deaf")[1:] == ["ignored SIGINT", "ignored SIGTERM"]  # then SIGKILL
    assert "[WARNING] [noint-2]: still running 0.5 s after SIGINT: sending SIGTERM" in err
    assert "[WARNING] [deaf-3]: still running 0.5 s after SIGTERM: sending SIGKILL" in err
    assert "[INFO] [deaf-3]: process has died" in out and "exit code -9" in out
    assert 0.9 < elapsed < 5, elapsed
    for pid in pids(out, "start"):
        assert not pid_alive(pid)


def test_sigterm_to_launcher_shuts_down_in_order(ws: Workspace) -> None:
    ws.add_launch("esc.launch.xml", ESCALATION.format(rec=ws.root))
    launcher = ws.start("demo_pkg", "esc.launch.xml")
    wait_for(lambda: all(lines_of(ws.root / n) for n in ("polite", "noint", "deaf")))
    out, err = stop(launcher, signal.SIGTERM)
    assert launcher.returncode == 0, err
    assert "shutting down: SIGTERM received" in out
    # As for Ctrl-C: SIGINT first, not the SIGTERM the launcher got.
    assert lines_of(ws.root / "polite")[1:] == ["got SIGINT"]
    assert lines_of(ws.root / "noint")[1:] == ["ignored SIGINT", "got SIGTERM"]
    for pid in pids(out, "start"):
        assert not pid_alive(pid)


ORPHANS = """<launch>
  <node pkg="demo_pkg" exec="stub" exec_name="parent" args="--spawn-child" output="screen"/>
  <executable cmd="sh -c 'sleep 301 &amp; sleep 302 &amp; echo shell $$; wait'" name="shell" output="screen"/>
</launch>
"""


def _process_tree_started(out_lines: list[str]) -> bool:
    text = "\n".join(out_lines)
    return bool(pids(text, "child")) and ": shell " in text


def _read_until(launcher, predicate, timeout: float = 20) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate(lines):
        line = launcher.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    assert predicate(lines), lines
    return lines


def _tree(lines: list[str]) -> list[int]:
    text = "\n".join(lines)
    shell = int(re.search(r": shell (\d+)", text).group(1))  # type: ignore[union-attr]
    shell_children = [int(p) for p in open(f"/proc/{shell}/task/{shell}/children").read().split()]
    return [*pids(text, "start"), *pids(text, "child"), shell, *shell_children]


def test_no_orphans_when_launcher_is_sigkilled(ws: Workspace) -> None:
    ws.add_launch("orphans.launch.xml", ORPHANS)
    launcher = ws.start("demo_pkg", "orphans.launch.xml")
    lines = _read_until(launcher, _process_tree_started)
    tree = _tree(lines)
    assert len(tree) == 5 and all(pid_alive(p) for p in tree)
    launcher.kill()
    launcher.communicate(timeout=10)
    wait_for(lambda: not any(pid_alive(p) for p in tree), timeout=5)


def test_no_orphans_after_normal_shutdown(ws: Workspace) -> None:
    ws.add_launch("orphans.launch.xml", ORPHANS)
    launcher = ws.start(
        "demo_pkg", "orphans.launch.xml", "sigterm_timeout:=0.3", "sigkill_timeout:=0.3"
    )
    lines = _read_until(launcher, _process_tree_started)
    tree = _tree(lines)
    stop(launcher, signal.SIGINT)
    wait_for(lambda: not any(pid_alive(p) for p in tree), timeout=5)


def test_respawn_with_delay_and_max_retries(ws: Workspace) -> None:
    rec = ws.root / "runs"
    ws.add_launch(
        "respawn.launch.yaml",
        f"""launch:
- node:
    pkg: demo_pkg
    exec: stub
    args: "--exit-after 0.05 --code 2 --record {rec}"
    respawn: "true"
    respawn_delay: 0.3
    respawn_max_retries: 2
""",
    )
    started = time.monotonic()
    result = ws.launch("demo_pkg", "respawn.launch.yaml")
    elapsed = time.monotonic() - started
    assert [line.split()[0] for line in lines_of(rec)] == ["start", "exit"] * 3
    assert elapsed > 0.6  # two respawn delays
    assert result.returncode == 1  # a process failed on its own
    assert result.stdout.count("respawning (retry") == 2
    assert "not respawning: 2 retries used" in result.stdout


def test_required_process_ends_the_launch(ws: Workspace) -> None:
    ws.add_launch(
        "required.launch.xml",
        f"""<launch>
  <node pkg="demo_pkg" exec="stub" exec_name="brain" args="--exit-after 1.5 --code 3" on_exit="shutdown"/>
  <node pkg="demo_pkg" exec="stub" exec_name="body" args="--record {ws.root}/body"/>
</launch>""",
    )
    result = ws.launch("demo_pkg", "required.launch.xml")
    assert result.returncode == 1
    assert "shutting down: process brain-1 exited (on_exit shutdown)" in result.stdout
    assert lines_of(ws.root / "body")[1:] == ["got SIGINT"]


def test_required_alias_and_clean_exit_status(ws: Workspace) -> None:
    ws.add_launch(
        "required.launch.xml",
        """<launch>
  <node pkg="demo_pkg" exec="stub" exec_name="brain" args="--exit-after 1.5" required="true"/>
  <node pkg="demo_pkg" exec="stub" exec_name="body"/>
</launch>""",
    )
    result = ws.launch("demo_pkg", "required.launch.xml")
    assert result.returncode == 0, result.stderr
    assert "shutting down: process brain-1 exited" in result.stdout
    assert "[INFO] [body-2]: process has finished cleanly" in result.stdout  # got SIGINT, exit 0


def test_output_screen_log_and_log_folder(ws: Workspace) -> None:
    ws.add_launch(
        "out.launch.xml",
        """<launch>
  <executable cmd="echo shown-on-screen" name="loud" output="screen"/>
  <executable cmd="echo only-in-log" name="quiet" output="log"/>
  <executable cmd="sh -c 'echo to-stderr 1>&amp;2'" name="errs" output="log"/>
</launch>""",
    )
    result = ws.launch("demo_pkg", "out.launch.xml")
    assert result.returncode == 0, result.stderr
    assert "loud-1: shown-on-screen" in result.stdout
    assert "only-in-log" not in result.stdout + result.stderr
    assert "errs-3: to-stderr" in result.stderr  # output="log" still shows stderr, as ROS 2
    (folder,) = [p for p in ws.log_dir.iterdir() if p.is_dir()]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d+-.+-\d+", folder.name)
    launch_log = (folder / "launch.log").read_text()
    assert "quiet-2: only-in-log" in launch_log and "loud-1: shown-on-screen" in launch_log
    (quiet,) = folder.glob("quiet-2-*-stdout_stderr.log")
    assert quiet.read_text() == "only-in-log\n"


HANDLERS_PY = """
from launch import LaunchDescription
from launch.actions import (EmitEvent, ExecuteProcess, LogInfo, OpaqueFunction,
                            RegisterEventHandler, TimerAction)
from launch.event_handlers import OnProcessExit, OnProcessStart, OnShutdown
from launch.events import Shutdown
from launch_ros.actions import Node


def generate_launch_description():
    first = Node(package="demo_pkg", executable="stub", exec_name="first",
                 arguments=["--exit-after", "1.0"])
    second = ExecuteProcess(cmd=["echo", "second ran"], name="second", output="screen")
    return LaunchDescription([
        RegisterEventHandler(OnProcessStart(target_action=first,
                                            on_start=[LogInfo(msg="first started")])),
        RegisterEventHandler(OnProcessExit(
            target_action=first,
            on_exit=lambda event, context: [LogInfo(msg=f"first exited {event.returncode}"), second])),
        RegisterEventHandler(OnProcessExit(target_action=first, on_exit=[LogInfo(msg="handler two")])),
        RegisterEventHandler(OnProcessExit(target_action=second,
                                           on_exit=[EmitEvent(event=Shutdown(reason="all done"))])),
        RegisterEventHandler(OnShutdown(on_shutdown=[LogInfo(msg="bye")])),
        OpaqueFunction(function=lambda context: [LogInfo(msg="opaque " + context.launch_configurations["who"])]),
        TimerAction(period=0.1, actions=[LogInfo(msg="timer fired")]),
        first,
        Node(package="demo_pkg", executable="stub", exec_name="idle"),
    ])
"""


def test_event_handlers_timer_and_shutdown_in_order(ws: Workspace) -> None:
    ws.add_launch("handlers.launch.py", HANDLERS_PY)
    result = ws.launch("demo_pkg", "handlers.launch.py", "who:=me")
    assert result.returncode == 0, result.stderr
    user = [
        line.split("]: ", 1)[1] for line in result.stdout.splitlines() if "[launch.user]" in line
    ]
    # The timer races the process start-up under load: check it apart from the handlers' order.
    assert "timer fired" in user
    assert [text for text in user if text != "timer fired"] == [
        "opaque me",
        "first started",
        "first exited 0",
        "handler two",
        "bye",
    ]
    assert "second-3: second ran" in result.stdout
    assert "shutting down: all done" in result.stdout
    assert "[INFO] [idle-2]: process has finished cleanly" in result.stdout


def test_pdeathsig_child_dies_with_launcher_even_without_reaper(ws: Workspace) -> None:
    # The parent-death signal alone (the reaper is for grandchildren) ends a direct child.
    ws.add_launch(
        "one.launch.xml", '<launch><node pkg="demo_pkg" exec="stub" output="screen"/></launch>'
    )
    launcher = ws.start("demo_pkg", "one.launch.xml")
    lines = _read_until(launcher, lambda ls: any(": start " in line for line in ls))
    (pid,) = pids("\n".join(lines), "start")
    assert os.getpgid(pid) == pid  # its own process group
    launcher.kill()
    launcher.communicate(timeout=10)
    wait_for(lambda: not pid_alive(pid), timeout=5)


def test_process_exiting_with_a_child_left_behind(ws: Workspace) -> None:
    # The child keeps the pipes open; the launch must still see the exit at once and kill it.
    ws.add_launch(
        "leak.launch.xml",
        """<launch>
  <executable cmd="sh -c 'sleep 303 &amp; echo left $!'" name="leaker" output="screen"/>
</launch>""",
    )
    started = time.monotonic()
    result = ws.launch("demo_pkg", "leak.launch.xml", timeout=20)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 5
    (child,) = pids(result.stdout, "left")
    wait_for(lambda: not pid_alive(child), timeout=2)


def test_descendant_that_left_its_group_is_ended_with_the_launch(ws: Workspace) -> None:
    ws.add_launch(
        "setsid.launch.xml",
        """<launch>
  <executable cmd="sh -c 'setsid sleep 304 > /dev/null 2>&amp;1 &amp; echo escaped $!'"
              name="escaper" output="screen"/>
</launch>""",
    )
    result = ws.launch("demo_pkg", "setsid.launch.xml", timeout=20)
    assert result.returncode == 0, result.stderr
    (pid,) = pids(result.stdout, "escaped")
    assert f"killing leftover process [pid {pid}]" in result.stderr
    assert not pid_alive(pid)
