"""The patient's consent on a case: the case page form and ``PUT /api/cases/<id>/consent``."""
