"""Lesions over time: patients, their lesions, visits and comparisons (issue #17)."""
