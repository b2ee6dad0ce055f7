"""Diagnosis: the thin AI proxies for API consumers (and, later, the full orchestration)."""
