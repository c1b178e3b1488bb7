"""A layered left-to-right layout of a :class:`~.graph_model.GraphView`, done once when generating.

The usual steps of a layered (Sugiyama-style) drawing, each kept simple:

1. cycles are broken by reversing the edges a depth-first search finds going back up its stack
   (a feedback loop is drawn right to left);
2. each box gets the layer of the longest path reaching it, so data flows left to right;
3. an edge spanning several layers goes through one invisible point per layer it crosses;
4. the boxes of each layer are ordered by the barycentre of their neighbours, sweeping right
   then left a few times, which removes most crossings;
5. layers get x positions wide enough for their boxes and for the labels in the gap after them;
   boxes are pulled towards their neighbours' height, keeping their order and spacing.

Text is measured with a monospace font's advance (the page asks for one), so boxes fit their text
without a browser. Everything is bounded by the size of the view: no iteration depends on
anything else.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from .graph_model import Box, Edge, GraphView, clip

__all__ = ["BoxPlace", "EdgeRoute", "Layout", "layout", "text_width"]

TITLE_CHAR = 7.9  # px per character of a 13 px bold monospace title
LINE_CHAR = 6.7  # px per character of an 11 px monospace line (box lines, edge labels)
TITLE_HEIGHT = 18.0
LINE_HEIGHT = 15.0
PAD_X = 12.0
PAD_Y = 8.0
LABEL_HEIGHT = 15.0
LAYER_GAP = 56.0  # px between layers besides the widest label
ROW_GAP = 26.0  # px between boxes of a layer
MARGIN = 24.0
LOOP_ROOM = 34.0  # px above a box with an edge to itself
SWEEPS = 6


@dataclass(frozen=True)
class BoxPlace:
    """Where a box sits: top-left corner and size, in px."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class EdgeRoute:
    """The points an edge's curve goes through, and where its label block is centred."""

    edge: Edge
    points: tuple[tuple[float, float], ...]
    label_at: tuple[float, float]
    label_width: float
    reversed: bool  # drawn right to left (a feedback edge)
    loop: bool  # from a box to itself
    gap: float  # left x of the gap between layers the label sits in (-1 for a loop)


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    places: dict[str, BoxPlace]
    routes: tuple[EdgeRoute, ...]


def text_width(text: str, char: float = LINE_CHAR) -> float:
    return len(text) * char


def _box_size(box: Box) -> tuple[float, float]:
    width = max(
        [text_width(clip(box.title), TITLE_CHAR)] + [text_width(clip(line)) for line in box.lines]
    )
    height = PAD_Y * 2 + TITLE_HEIGHT + LINE_HEIGHT * len(box.lines)
    return max(width + 2 * PAD_X, 80.0), height


def _label_width(edge: Edge) -> float:
    return max(text_width(label) for label in edge.labels) + 10.0 if edge.labels else 0.0


def _reversed_edges(keys: list[str], edges: tuple[Edge, ...]) -> set[int]:
    """Indices of the edges a depth-first search (in the view's order) finds going backwards."""
    out: dict[str, list[int]] = {key: [] for key in keys}
    for index, edge in enumerate(edges):
        if edge.source != edge.target:
            out[edge.source].append(index)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[int] = set()
    for start in keys:
        if start in state:
            continue
        # iterative DFS: (key, next edge position), so deep graphs cannot hit the recursion limit
        stack = [(start, 0)]
        state[start] = 1
        while stack:
            key, position = stack[-1]
            if position == len(out[key]):
                state[key] = 2
                stack.pop()
                continue
            stack[-1] = (key, position + 1)
            index = out[key][position]
            target = edges[index].target
            if state.get(target) == 1:
                back.add(index)
            elif target not in state:
                state[target] = 1
                stack.append((target, 0))
    return back


def layout(view: GraphView) -> Layout:
    """Place every box and route every edge of ``view``."""
    keys = [box.key for box in view.boxes]
    edges = view.edges
    back = _reversed_edges(keys, edges)
    # the DAG the layers come from: (upper, lower) pairs, feedback edges turned round
    dag = [
        (e.target, e.source) if i in back else (e.source, e.target)
        for i, e in enumerate(edges)
        if e.source != e.target
    ]
    layer = _longest_path_layers(keys, dag)

    # chains of points: each DAG edge becomes a list of keys, one per layer, dummies in between
    chains: dict[int, list[str]] = {}
    members: dict[int, list[str]] = {}
    for key in keys:
        members.setdefault(layer[key], []).append(key)
    for index, edge in enumerate(edges):
        if edge.source == edge.target:
            continue
        upper, lower = (edge.target, edge.source) if index in back else (edge.source, edge.target)
        chain = [upper]
        for level in range(layer[upper] + 1, layer[lower]):
            dummy = f"\0{index}:{level}"
            members[level].append(dummy)
            chain.append(dummy)
        chain.append(lower)
        chains[index] = chain
    layers = [members[level] for level in range(max(members) + 1)] if members else []
    _order(layers, chains)

    size = {box.key: _box_size(box) for box in view.boxes}
    loops = {e.source for e in edges if e.source == e.target}
    for edge in edges:  # a loop's label sits above its box: the box is at least as wide
        if edge.source == edge.target:
            width, box_height = size[edge.source]
            size[edge.source] = (max(width, _label_width(edge) + 2 * PAD_X), box_height)

    def height(key: str) -> float:
        if key in size:
            return size[key][1] + (LOOP_ROOM if key in loops else 0.0)
        return LABEL_HEIGHT  # a dummy: room for the edge passing through

    # x: each layer as wide as its widest box, gaps as wide as the widest label sitting in them
    gap_label = [0.0] * len(layers)
    for index, chain in chains.items():
        gap_label[layer[chain[0]]] = max(gap_label[layer[chain[0]]], _label_width(edges[index]))
    x_of_layer: list[float] = []
    x = MARGIN
    layer_width: list[float] = []
    for level, names in enumerate(layers):
        x_of_layer.append(x)
        width = max((size[k][0] for k in names if k in size), default=0.0)
        layer_width.append(width)
        x += width + LAYER_GAP + gap_label[level]

    y_centre = _heights(layers, chains, height)
    places: dict[str, BoxPlace] = {}
    points: dict[str, tuple[float, float]] = {}
    for level, names in enumerate(layers):
        for key in names:
            centre = y_centre[key]
            if key in size:
                width, box_height = size[key]
                top = centre - height(key) / 2 + (LOOP_ROOM if key in loops else 0.0)
                left = x_of_layer[level] + (layer_width[level] - width) / 2
                places[key] = BoxPlace(left, top, width, box_height)
            else:
                points[key] = (x_of_layer[level] + layer_width[level] / 2, centre)

    def gap(index: int) -> tuple[float, float]:
        """Where labels go in the gap after the upper box's layer: (left, right) x."""
        chain = chains.get(index)
        if chain is None:
            return (0.0, 0.0)
        level = layer[chain[0]]
        left = x_of_layer[level] + layer_width[level] + LAYER_GAP / 2
        return (left, left + gap_label[level])

    routes = [
        _route(edge, chains.get(index), places, points, index in back, gap(index))
        for index, edge in enumerate(edges)
    ]
    _spread_labels(routes)
    right = max((p.x + p.width for p in places.values()), default=0.0)
    bottom = max((p.y + p.height for p in places.values()), default=0.0)
    for route in routes:
        bottom = max(bottom, route.label_at[1] + LABEL_HEIGHT * len(route.edge.labels) / 2)
        right = max(right, route.label_at[0] + route.label_width / 2)
    return Layout(right + MARGIN, bottom + MARGIN, places, tuple(routes))


def _longest_path_layers(keys: list[str], dag: list[tuple[str, str]]) -> dict[str, int]:
    incoming = {key: 0 for key in keys}
    out: dict[str, list[str]] = {key: [] for key in keys}
    for upper, lower in dag:
        out[upper].append(lower)
        incoming[lower] += 1
    layer = dict.fromkeys(keys, 0)
    ready = [key for key in keys if incoming[key] == 0]
    while ready:
        key = ready.pop(0)
        for lower in out[key]:
            layer[lower] = max(layer[lower], layer[key] + 1)
            incoming[lower] -= 1
            if incoming[lower] == 0:
                ready.append(lower)
    return layer


def _order(layers: list[list[str]], chains: dict[int, list[str]]) -> None:
    """Reorder each layer in place by the barycentre of its neighbours in the layer swept from."""
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for chain in chains.values():
        for a, b in itertools.pairwise(chain):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)

    def barycentre(
        key: str, neighbours: dict[str, list[str]], fixed: dict[str, int], current: dict[str, int]
    ) -> float:
        near = [fixed[n] for n in neighbours.get(key, ()) if n in fixed]
        return sum(near) / len(near) if near else float(current[key])

    def sweep(order: range, neighbours: dict[str, list[str]], fixed_of: int) -> None:
        for level in order:
            fixed = {key: i for i, key in enumerate(layers[level + fixed_of])}
            current = {key: i for i, key in enumerate(layers[level])}
            layers[level].sort(
                key=lambda k: (barycentre(k, neighbours, fixed, current), current[k])
            )

    for _ in range(SWEEPS):
        sweep(range(1, len(layers)), up, -1)
        sweep(range(len(layers) - 2, -1, -1), down, +1)


def _heights(
    layers: list[list[str]], chains: dict[int, list[str]], height: Callable[[str], float]
) -> dict[str, float]:
    """Centre y of each key: stacked in order, then pulled towards neighbours without overlap."""
    neighbours: dict[str, list[str]] = {}
    for chain in chains.values():
        for a, b in itertools.pairwise(chain):
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
    centre: dict[str, float] = {}
    tallest = max((sum(height(k) + ROW_GAP for k in names) for names in layers), default=0.0)
    for names in layers:
        total = sum(height(k) + ROW_GAP for k in names)
        y = MARGIN + (tallest - total) / 2
        for key in names:
            centre[key] = y + height(key) / 2
            y += height(key) + ROW_GAP
    for _ in range(SWEEPS):
        for names in layers:
            wanted = []
            for key in names:
                near = [centre[n] for n in neighbours.get(key, ())]
                wanted.append(sum(near) / len(near) if near else centre[key])
            # keep the order: push down where boxes would overlap, then up from the bottom
            placed = list(wanted)
            for i in range(1, len(names)):
                least = placed[i - 1] + (height(names[i - 1]) + height(names[i])) / 2 + ROW_GAP
                placed[i] = max(placed[i], least)
            for i in range(len(names) - 2, -1, -1):
                most = placed[i + 1] - (height(names[i + 1]) + height(names[i])) / 2 - ROW_GAP
                placed[i] = min(placed[i], max(most, wanted[i]))
            for key, y in zip(names, placed, strict=False):
                centre[key] = y
    top = min((centre[k] - height(k) / 2 for names in layers for k in names), default=MARGIN)
    return {key: y - top + MARGIN for key, y in centre.items()}


def _route(
    edge: Edge,
    chain: list[str] | None,
    places: dict[str, BoxPlace],
    points: dict[str, tuple[float, float]],
    reverse: bool,
    gap: tuple[float, float],
) -> EdgeRoute:
    width = _label_width(edge)
    if chain is None:  # a loop: up from the box's right part, back into its left part
        box = places[edge.source]
        top = box.y
        right, left = box.x + box.width * 0.75, box.x + box.width * 0.25
        summit = top - LOOP_ROOM + 6
        return EdgeRoute(
            edge,
            ((right, top), (right, summit), (left, summit), (left, top)),
            ((left + right) / 2, summit),
            width,
            reversed=False,
            loop=True,
            gap=-1.0,
        )
    upper, lower = places[chain[0]], places[chain[-1]]
    # forward edges leave from the middle of the right side; feedback edges run lower down
    shift = 0.25 if reverse else 0.0
    start = (upper.x + upper.width, upper.y + upper.height * (0.5 + shift))
    end = (lower.x, lower.y + lower.height * (0.5 + shift))
    middle = [points[key] for key in chain[1:-1]]
    # the label sits on the edge in the gap after the upper box's layer, next to the box that
    # sends: left-aligned for a forward edge, right-aligned for a feedback edge
    after = middle[0] if middle else end
    label_x = gap[1] - width / 2 if reverse else gap[0] + width / 2
    fraction = (label_x - start[0]) / (after[0] - start[0]) if after[0] > start[0] else 0.5
    label = (label_x, start[1] + (after[1] - start[1]) * min(max(fraction, 0.0), 1.0))
    route = [start, label, *middle, end]
    if reverse:
        route.reverse()
    return EdgeRoute(edge, tuple(route), label, width, reversed=reverse, loop=False, gap=gap[0])


def _spread_labels(routes: list[EdgeRoute]) -> None:
    """Move labels that would overlap in the same gap apart vertically (their curves follow)."""
    gaps: dict[int, list[int]] = {}
    for i, route in enumerate(routes):
        if not route.loop:
            gaps.setdefault(round(route.gap), []).append(i)
    for indices in gaps.values():
        indices.sort(key=lambda i: routes[i].label_at[1])
        previous_bottom = float("-inf")
        for i in indices:
            route = routes[i]
            half = LABEL_HEIGHT * len(route.edge.labels) / 2
            y = max(route.label_at[1], previous_bottom + half + 2)
            previous_bottom = y + half
            if y != route.label_at[1]:
                label = (route.label_at[0], y)
                points = tuple(label if p == route.label_at else p for p in route.points)
                routes[i] = EdgeRoute(
                    route.edge,
                    points,
                    label,
                    route.label_width,
                    route.reversed,
                    route.loop,
                    route.gap,
                )
