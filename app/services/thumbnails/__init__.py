"""Thumbnails: small JPEG renditions of the stored lesion photos, for pages that show many
photos small (the worklist, a lesion's timeline, the photo a physician is asked to retake).

A stored photo is up to 2048 px and hundreds of KB; a worklist of 50 rows showing each at
72 CSS px downloaded megabytes. A thumbnail is made once per photo with Pillow
(:mod:`.render`, in a native thread: :func:`app.concurrency.run_cpu_bound`) from the stored,
already cleaned image, and kept as a **derived object beside the original** in the same store
(:mod:`.derived`: ``cases/<case_id>/<image_id>.thumb256.jpg``), so every later view reads
~10 KB from the store instead of decoding the photo again. Why the store rather than a
per-process cache: the gateway keeps no state in the process (several workers on several
machines share one store), the object inherits the store's encryption and access rules, and it
leaves with its photo (deleted by :func:`app.services.case_images.delete_image`; one left
behind by a failure is an orphan :mod:`app.services.maintenance` purges).

:mod:`.serve` checks access, audits and answers the bytes with an ETag, so a browser's copy is
revalidated (304, no store read) instead of downloaded again. The modules are imported by
name (``from app.services.thumbnails import serve``): this package imports nothing itself,
so :mod:`app.services.case_images` can use :mod:`.derived` without an import cycle.
"""
