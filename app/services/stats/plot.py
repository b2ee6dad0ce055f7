"""The calibration plot as SVG, drawn with matplotlib (server-side; no script in the page).

Served as an image of its own (``<img src=…svg>``): the SVG carries matplotlib's own style
attributes, which the page's Content-Security-Policy (``style-src 'self'``) would refuse inline;
as an image it is a separate document that runs no script. The page shows the same figures in
a table beside it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from app.services.stats.figures import CalibrationBin


def calibration_svg(bins: Sequence[CalibrationBin]) -> bytes:
    """A reliability diagram: mean predicted probability of the top diagnosis per decile (x)
    against how often it was confirmed (y), the diagonal of perfect calibration, and the case
    count of each point. Deterministic bytes for the same bins (no date, fixed ids)."""
    # Imported here: heavy, and only a plot needs it. Figure without pyplot: no global
    # state, no GUI backend, safe in threads.
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "dermadetect", "svg.fonttype": "none"}):
        figure = Figure(figsize=(5.2, 4.4), dpi=100)
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], linestyle="--", color="#8891a4", label="Perfect calibration")
        points = [b for b in bins if b.cases and b.mean_predicted is not None]
        xs = [b.mean_predicted for b in points]
        ys = [b.confirmed.value for b in points]
        axes.plot(xs, ys, marker="o", color="#0172ad", label="Top diagnosis")
        for b in points:
            axes.annotate(
                f"n={b.cases}",
                (b.mean_predicted, b.confirmed.value),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
                color="#373c44",
            )
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.05)
        axes.set_xlabel("Predicted probability of the top diagnosis (decile mean)")
        axes.set_ylabel("Share confirmed")
        axes.set_title("Calibration of the AI's top diagnosis")
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
