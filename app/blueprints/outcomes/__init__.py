"""Histology outcomes of reviewed cases: the case page form and the JSON endpoint."""
