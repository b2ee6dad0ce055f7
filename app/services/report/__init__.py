"""The case report: what it says (:mod:`.content`) and its PDF (:mod:`.pdf`)."""
