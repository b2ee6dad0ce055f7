"""The clinical record of a case: what each analysis was computed from and what it means.

- :mod:`.headline`: the one headline urgency and action of a case (red flags × triage × tier);
- :mod:`.inputs`: the inputs an analysis was computed from, and whether it is outdated;
- :mod:`.answers`: the answers in the order asked, and the replay that drops abandoned branches;
- :mod:`.evidence`: what drove the result (photo alone, answers alone), in words;
- :mod:`.reviews`: the review history, reopening a reviewed (signed) case.
"""
