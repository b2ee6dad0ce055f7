"""Concordance statistics: the page, its SVG plot and ``GET /api/stats/concordance``."""
