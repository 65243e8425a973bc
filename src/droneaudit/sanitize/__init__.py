"""Lossless, verified sanitizer: share the picture, not the pilot.

``droneaudit sanitize PATH... --out DIR`` writes cleaned copies under ``DIR`` (the tree mirrored, the
originals never opened for writing) and a JSON manifest. One cleaner per format, each editing the
metadata it understands and copying image and thermal data byte for byte:

========================  ==========================================================================
``jpeg``                  JPEG / R-JPEG segments, EXIF (``tiff_clean``), XMP (``xmp_clean``), FLIR FFF
                          (``flir``), MPF previews and index (``mpf``)
``tiff_clean``            EXIF/TIFF/DNG IFDs, edited in place
``srt``                   DJI SRT sidecars
``verify``                re-reads every output with the inventory readers before it is kept
``run``                   the driver: plan, clean, verify, place, manifest
========================  ==========================================================================

Library use::

    from droneaudit.sanitize import Options, parse_profile, sanitize
    report = sanitize(["DCIM"], Path("clean"), Options(parse_profile("location,identity")))
    report.exit_code, report.to_json()
"""

from __future__ import annotations

from droneaudit.sanitize.common import DEFAULT_PROFILE, PROFILES, Options, parse_profile, profile_label
from droneaudit.sanitize.run import FileResult, Report, sanitize

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "FileResult",
    "Options",
    "Report",
    "parse_profile",
    "profile_label",
    "sanitize",
]
