"""Charts as PNG bytes, drawn by matplotlib without a screen: the panels the indicators and the
forecast draw, and the one way they become a file's bytes."""

from __future__ import annotations

import io
from typing import Any


def panels(count: int, height: float) -> tuple[Any, list[Any]]:
    """A figure of `count` panels stacked, 12 inches wide."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to memory
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(count, 1, figsize=(12, height), dpi=100)
    return figure, list(axes)


# Legends sit above each panel, never over a bar or a line.
ABOVE = {"loc": "lower left", "bbox_to_anchor": (0, 1.01), "ncol": 3, "frameon": False}


def png(figure: Any) -> bytes:
    """The figure laid out, as PNG bytes; the figure is closed (matplotlib keeps it otherwise)."""
    from matplotlib import pyplot as plt

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
