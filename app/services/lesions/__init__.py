"""Lesions over time (issue #17): patients, their followed lesions, visits, and comparison.

A patient is a pseudonymous reference of one owner; a lesion belongs to a patient; a case is
one visit of one lesion. The modules, by role:

- :mod:`.records`: the rows behind a case (patient get-or-create, the lesion of a new case);
  used by :mod:`app.services.cases`, no audit, no commit;
- :mod:`.access`: loading a patient / lesion the actor may see, the audit action names;
- :mod:`.patients`: create, list and read patients;
- :mod:`.lesions`: create, change and read lesions (with their timeline);
- :mod:`.visits`: a new visit (case) of a lesion, carrying over what does not change;
- :mod:`.shapes`: the dataclasses returned (timeline entry, comparison, …);
- :mod:`.timeline`: every visit of a lesion, in words and numbers;
- :mod:`.changes`: what changed between two analyses / two anamneses, in words (pure);
- :mod:`.compare`: the comparison of two visits;
- :mod:`.reanalysis`: an earlier visit's photo analysed again by the current model.
"""
