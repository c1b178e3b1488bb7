"""The layered layout on many random graphs: no two boxes overlap, no label lies over a box,
every edge starts and ends on its boxes, and the picture holds everything it draws."""

from __future__ import annotations

import random

import pytest

from dora_ros.tools.graph_layout import LABEL_HEIGHT, BoxPlace, layout
from dora_ros.tools.graph_model import Box, Edge, GraphView


def _random_view(seed: int) -> GraphView:
    rng = random.Random(seed)
    count = rng.randint(1, 25)
    kinds = ("node", "timer", "ros", "topic", "dynamic")
    boxes = tuple(
        Box(
            f"b{i}",
            rng.choice(kinds),
            "n" * rng.randint(1, 30),
            tuple("l" * rng.randint(0, 60) for _ in range(rng.randint(0, 3))),
        )
        for i in range(count)
    )
    pairs: dict[tuple[str, str], list[str]] = {}
    for _ in range(rng.randint(0, count * 2)):
        source, target = rng.choice(boxes).key, rng.choice(boxes).key  # loops and cycles too
        labels = pairs.setdefault((source, target), [])
        labels.append("x" * rng.randint(1, 25))
    edges = tuple(Edge(s, t, tuple(labels)) for (s, t), labels in pairs.items())
    from pathlib import Path

    return GraphView("random", Path("random.yml"), boxes, edges)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def _frame(place: BoxPlace) -> tuple[float, float, float, float]:
    return (place.x, place.y, place.x + place.width, place.y + place.height)


@pytest.mark.parametrize("seed", range(200))
def test_random_graph_layout(seed: int) -> None:
    view = _random_view(seed)
    placed = layout(view)
    frames = {key: _frame(place) for key, place in placed.places.items()}
    assert sorted(frames) == sorted(box.key for box in view.boxes)
    keys = list(frames)
    for i, a in enumerate(keys):
        assert frames[a][0] >= 0 and frames[a][1] >= 0
        assert frames[a][2] <= placed.width and frames[a][3] <= placed.height
        for b in keys[i + 1 :]:
            assert not _overlap(frames[a], frames[b]), (seed, a, b)
    assert len(placed.routes) == len(view.edges)
    labels = []
    for route in placed.routes:
        x, y = route.label_at
        half = LABEL_HEIGHT * len(route.edge.labels) / 2
        label = (x - route.label_width / 2, y - half, x + route.label_width / 2, y + half)
        for other, other_edge in labels:
            assert not _overlap(label, other), (seed, route.edge, other_edge)
        labels.append((label, route.edge))
        if route.loop:  # above its box, within its width
            frame = frames[route.edge.source]
            assert frame[0] <= label[0] and label[2] <= frame[2] and label[3] <= frame[1] + 1
        assert label[2] <= placed.width and label[3] <= placed.height
        if not route.loop:
            for key, frame in frames.items():
                assert not _overlap(label, frame), (seed, route.edge, key)
            assert route.label_at in route.points  # the curve goes through its label
        # the curve starts on its source's box and ends on its target's
        first, last = route.points[0], route.points[-1]
        for point, key in ((first, route.edge.source), (last, route.edge.target)):
            left, top, right, bottom = frames[key]
            assert left - 0.01 <= point[0] <= right + 0.01, (seed, route.edge)
            assert top - 0.01 <= point[1] <= bottom + 0.01, (seed, route.edge)


def test_empty_graph() -> None:
    from pathlib import Path

    placed = layout(GraphView("empty", Path("e.yml"), (), ()))
    assert placed.places == {} and placed.routes == ()
