"""Authentication: JSON API (tokens) and portal pages (sessions)."""
