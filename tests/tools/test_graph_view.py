"""`dora-ros graph`: the page it writes, looked at in a real headless Chromium.

Every box and every edge label must be an SVG element the browser draws with a non-zero size, box
titles must fit inside their boxes, boxes must not overlap, the page must load nothing from the
network, and a screenshot must show something (not one uniform colour). With
DORA_ROS_WRITE_DOCS_IMAGES=1 the screenshots are also written under docs/images/ (the pictures of
docs/tools.md come from here).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from toolrun import ROOT, dora_ros, png_pixels, start_browser

from dora_ros.tools.graph_model import GraphView, clip, view_of_dataflow, view_of_launch

EXAMPLES = ROOT / "examples"

# feedback loop, a box feeding itself, an edge spanning layers, two labels on one edge,
# a service client, an action server, a namespaced bridge, a dynamic node
TRICKY = """
nodes:
  - id: planner
    path: node.py
    inputs:
      tick: dora/timer/secs/1
      pose: ros/pose
      state: planner/state
      result: arm/result
    outputs: [cmd_vel, state, goal]
  - id: ros
    ros2:
      namespace: /robot
      topics:
        - topic: pose
          message_type: geometry_msgs/Pose
          output: pose
        - topic: cmd_vel
          message_type: geometry_msgs/Twist
          direction: publish
          input: cmd_vel
    inputs:
      cmd_vel: planner/cmd_vel
  - id: adder
    ros2:
      service: /add_two_ints
      service_type: std_srvs/SetBool
      role: client
    inputs:
      request: planner/state
  - id: arm
    ros2:
      action: /fibonacci
      action_type: test_msgs/Fibonacci
      role: client
    inputs:
      goal: planner/goal
  - id: logger
    path: dynamic
    inputs:
      a: planner/state
      b: planner/cmd_vel
      c: dora/timer/millis/100
      d: adder/response
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()


def _cases(tmp_path: Path) -> dict[str, tuple[Path, GraphView]]:
    (tmp_path / "node.py").write_text("print('hi')\n")
    (tmp_path / "tricky.yml").write_text(textwrap.dedent(TRICKY).lstrip())
    python = EXAMPLES / "python-dataflow" / "dataflow.yml"
    ros = EXAMPLES / "ros2" / "dataflow.yml"
    launch = EXAMPLES / "ros2" / "launch" / "mixed.launch.xml"
    return {
        "python-dataflow": (python, view_of_dataflow(python)),
        "ros2": (ros, view_of_dataflow(ros)),
        "tricky": (tmp_path / "tricky.yml", view_of_dataflow(tmp_path / "tricky.yml")),
        "launch": (launch, view_of_launch(launch)),
    }


def _rect(driver: Any, element: Any) -> dict[str, float]:
    return dict(
        driver.execute_script("return arguments[0].getBoundingClientRect().toJSON();", element)
    )


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["left"] >= outer["left"] - 0.5
        and inner["right"] <= outer["right"] + 0.5
        and inner["top"] >= outer["top"] - 0.5
        and inner["bottom"] <= outer["bottom"] + 0.5
    )


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
    )


@pytest.mark.parametrize("case", ["python-dataflow", "ros2", "tricky", "launch"])
def test_page_in_a_real_browser(case: str, browser: Any, tmp_path: Path) -> None:
    source, view = _cases(tmp_path)[case]
    page = tmp_path / f"{case}.html"
    result = dora_ros("graph", str(source), "-o", str(page), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{page}: {len(view.boxes)} boxes, {len(view.edges)} edges"
    text = page.read_text()
    # self-contained: no script, no stylesheet or image to fetch, no URL but the SVG namespace
    assert "<script" not in text and "<link" not in text and "<img" not in text
    assert re.findall(r"https?://[^\"' )]+", text) == ["http://www.w3.org/2000/svg"]

    browser.get(page.as_uri())
    drawn_boxes = browser.find_elements("css selector", "svg.dora-graph g[data-box]")
    assert sorted(e.get_attribute("data-box") for e in drawn_boxes) == sorted(
        b.key for b in view.boxes
    )
    rects = {}
    for element in drawn_boxes:
        key = element.get_attribute("data-box")
        frame = _rect(browser, element.find_element("css selector", "rect"))
        assert frame["width"] > 20 and frame["height"] > 20, (key, frame)
        title = element.find_element("css selector", "text.title")
        described = view.box(key)
        assert title.text == clip(described.title)
        tooltip = element.find_element("css selector", "title").get_attribute("textContent")
        assert tooltip == "\n".join((described.title, *described.lines))  # uncut
        texts = element.find_elements("css selector", "text")
        for text_element in texts:
            box = _rect(browser, text_element)
            assert box["width"] > 0 and box["height"] > 0, (key, text_element.text)
            if text_element.get_attribute("class") == "title" or text_element.text in [
                clip(line) for line in described.lines
            ]:
                assert _inside(box, frame), f"{key}: '{text_element.text}' sticks out of its box"
        rects[key] = frame
    keys = list(rects)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            assert not _overlap(rects[a], rects[b]), f"boxes {a} and {b} overlap"

    labels = browser.find_elements("css selector", "svg.dora-graph text[data-edge-label]")
    expected = sorted(label for edge in view.edges for label in edge.labels)
    assert sorted(e.get_attribute("data-edge-label") for e in labels) == expected
    assert sorted(e.text for e in labels) == expected
    for element in labels:
        box = _rect(browser, element)
        assert box["width"] > 0 and box["height"] > 0, element.text
        for key, frame in rects.items():
            assert not _overlap(box, frame), f"label '{element.text}' lies over box {key}"
    edges = browser.find_elements("css selector", "svg.dora-graph g[data-edge] path")
    assert len(edges) == len(view.edges)
    for element in edges:
        box = _rect(browser, element)
        assert box["width"] > 0 or box["height"] > 0

    shot = browser.find_element("css selector", "svg.dora-graph").screenshot_as_png
    pixels = png_pixels(shot)
    assert pixels.shape[0] > 40 and pixels.shape[1] > 200
    colours = {tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::7]}
    assert len(colours) > 20, f"screenshot nearly uniform: {len(colours)} colours"
    if os.environ.get("DORA_ROS_WRITE_DOCS_IMAGES") == "1" and case in ("python-dataflow", "ros2"):
        images = ROOT / "docs" / "images"
        images.mkdir(exist_ok=True)
        (images / f"graph-{case}.png").write_bytes(shot)


def test_ros_boxes_carry_topics_and_types(tmp_path: Path) -> None:
    _, view = _cases(tmp_path)["tricky"]
    assert view.box("node:ros").kind == "ros"
    assert view.box("topic:/robot/pose").lines == ("geometry_msgs/msg/Pose",)
    assert view.box("topic:/robot/cmd_vel").lines == ("geometry_msgs/msg/Twist",)
    assert view.box("service:/add_two_ints").lines == ("service std_srvs/srv/SetBool",)
    assert view.box("action:/fibonacci").kind == "action"
    assert view.box("timer:dora/timer/secs/1").title == "timer 1 s"
    assert view.box("timer:dora/timer/millis/100").title == "timer 100 ms"
    edges = {(e.source, e.target): e.labels for e in view.edges}
    assert edges[("topic:/robot/pose", "node:ros")] == ("ROS -> pose",)
    assert edges[("node:ros", "topic:/robot/cmd_vel")] == ("cmd_vel -> ROS",)
    assert edges[("node:planner", "node:planner")] == ("state",)
    assert edges[("node:planner", "node:logger")] == ("state -> a", "cmd_vel -> b")
    assert edges[("node:adder", "service:/add_two_ints")] == ("call",)
    assert edges[("node:arm", "node:planner")] == ("result",)


def test_mermaid(tmp_path: Path) -> None:
    result = dora_ros(
        "graph", str(EXAMPLES / "python-dataflow" / "dataflow.yml"), "--mermaid", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == textwrap.dedent(
        """\
        flowchart LR
          n0["camera<br>camera.py"]
          n1["brightness<br>brightness.py"]
          n2["printer<br>printer.py"]
          n3(["timer 33 ms"])
          n3 -- "tick" --> n0
          n0 -- "image" --> n1
          n1 -- "mean" --> n2
        """
    )
    assert list(tmp_path.iterdir()) == []  # --mermaid writes no page


def test_default_output_next_to_the_graph(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "python-dataflow" / "dataflow.yml", tmp_path / "flow.yml")
    for name in ("camera.py", "brightness.py", "printer.py"):
        shutil.copy(EXAMPLES / "python-dataflow" / name, tmp_path / name)
    result = dora_ros("graph", "flow.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "flow.html").read_text().startswith("<!DOCTYPE html>")
    assert result.stdout == "flow.html: 4 boxes, 3 edges\n"


def test_launch_arguments_reach_the_launch_file(tmp_path: Path) -> None:
    launch = tmp_path / "x.launch.xml"
    launch.write_text(
        '<launch><arg name="who" default="a"/>'
        '<executable cmd="echo $(var who)" name="say"/>'
        '<timer period="2.5"><executable cmd="echo later"/></timer></launch>'
    )
    result = dora_ros("graph", str(launch), "who:=bob", "--mermaid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "echo bob" in result.stdout
    assert '-- "after 2.5 s" -->' in result.stdout
    assert '-- "start" -->' in result.stdout


@pytest.mark.parametrize(
    ("args", "graph_text", "message"),
    [
        (["nope.yml"], None, "error: nope.yml: no such file"),
        (
            ["graph.yml"],
            "nodes:\n  - id: a\n    path: node.py\n    inputs:\n      x: b/y\n",
            None,  # the same line as `dora-ros validate`
        ),
        (["graph.yml", "extra"], "nodes: []\n", "only launch files take arguments"),
        (["missing.launch.xml"], None, "error: missing.launch.xml: no such file"),
    ],
)
def test_bad_input_is_one_line(
    args: list[str], graph_text: str | None, message: str | None, tmp_path: Path
) -> None:
    if graph_text is not None:
        (tmp_path / "graph.yml").write_text(graph_text)
        (tmp_path / "node.py").write_text("")
    result = dora_ros("graph", *args, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    if message is None:
        validate = dora_ros("validate", "graph.yml", cwd=tmp_path)
        assert validate.returncode == 1
        assert lines == validate.stderr.splitlines()
        assert "unknown" in lines[0] or "b/y" in lines[0]
    else:
        assert message in lines[0]


def test_bad_launch_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.launch.xml").write_text("<launch><nosuchtag/></launch>")
    result = dora_ros("graph", "bad.launch.xml", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ") and "nosuchtag" in result.stderr


def test_help_has_examples(tmp_path: Path) -> None:
    result = dora_ros("graph", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "dora-ros graph dataflow.yml --mermaid" in result.stdout


def test_open_hands_the_page_to_the_browser(tmp_path: Path) -> None:
    # webbrowser runs $BROWSER with the page's URL: a script that records what it was given
    record = tmp_path / "opened.txt"
    opener = tmp_path / "opener.py"
    opener.write_text(f"import sys\nopen({str(record)!r}, 'w').write(sys.argv[1])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["BROWSER"] = f"{sys.executable} {opener} %s"
    page = tmp_path / "page.html"
    graph = EXAMPLES / "python-dataflow" / "dataflow.yml"
    result = dora_ros("graph", str(graph), "-o", str(page), "--open", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert record.read_text() == page.as_uri()
