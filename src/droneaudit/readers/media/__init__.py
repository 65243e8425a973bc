"""Inventory readers for drone media, read from headers and sidecars only (never pixels or video frames).

Photos: ``tiff`` walks EXIF/TIFF directories, ``xmp`` flattens XMP packets by namespace URI, and
``photo_meta`` turns both into ``MediaRecords`` for the ``jpeg`` (JPEG / DJI R-JPEG) and ``dng`` readers.
Video sidecars: ``srt`` (DJI subtitle telemetry).
"""
