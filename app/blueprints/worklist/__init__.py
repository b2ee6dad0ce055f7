"""The worklist: the portal home of a physician and ``GET /api/worklist``."""
