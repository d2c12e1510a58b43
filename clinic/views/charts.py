"""The geometry of the Reports page's charts, drawn by the template as SVG (no script, no library):
bars for the funnel, a line for connected patients over time. Each chart has a table of the same
numbers beside it; the SVG is a picture of that table, never the only way to read a figure."""

import datetime
from dataclasses import dataclass

BAR_WIDTH, BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 600, 30, 14, 170
LINE_WIDTH, LINE_HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 600, 240, 44, 28, 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: float
    text_x: float


def bars(items: list[tuple[str, int]]) -> dict:
    """Horizontal bars, scaled to the largest value, each with its label and count."""
    top = max((value for _, value in items), default=0) or 1
    room = BAR_WIDTH - LABEL_WIDTH - 60
    drawn = [Bar(label, value, i * (BAR_HEIGHT + BAR_GAP), round(room * value / top, 1),
                 LABEL_WIDTH + round(room * value / top, 1) + 8) for i, (label, value) in enumerate(items)]
    return {"bars": drawn, "width": BAR_WIDTH, "height": max(len(items) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP, 1),
            "label_width": LABEL_WIDTH, "bar_height": BAR_HEIGHT, "text_dy": BAR_HEIGHT // 2 + 5}


def line(points: list[tuple[datetime.date, int]]) -> dict:
    """A polyline over the points, the y axis from 0 to the largest value (ticks at 0, half and top)."""
    top = max((value for _, value in points), default=0) or 1
    plot_w, plot_h = LINE_WIDTH - PAD_LEFT - 12, LINE_HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(points) - 1, 1)
    xy = [(round(PAD_LEFT + i * step, 1), round(PAD_TOP + plot_h * (1 - value / top), 1))
          for i, (_, value) in enumerate(points)]
    ticks = sorted({0, top // 2, top})
    return {
        "width": LINE_WIDTH, "height": LINE_HEIGHT, "left": PAD_LEFT, "bottom": PAD_TOP + plot_h, "right": PAD_LEFT + plot_w,
        "points": " ".join(f"{x},{y}" for x, y in xy),
        "dots": [{"x": x, "y": y} for x, y in xy] if len(xy) <= 60 else [],
        "ticks": [{"y": round(PAD_TOP + plot_h * (1 - t / top), 1), "value": t} for t in ticks],
        "first": points[0][0] if points else None, "last": points[-1][0] if points else None,
    }
