"""Flight-log readers: what a drone or its app recorded about the flight, beside the media.

Logs are the richest location evidence an SD card or phone holds - the whole track, the home point,
often the pilot's own position and the aircraft's serial numbers - so each reader turns them into the
same ``MediaRecords`` as the media readers (``TrackPoint`` per fix, ``Identity`` per serial).

* ``airdata_csv`` - Airdata-style CSV exports (a log that went through a third-party service);
* ``ulog`` - PX4 ULog, through pyulog;
* ``dji_record`` - DJI app ``DJIFlightRecord_*.txt``: the details block, readable offline in every
  version (frames of v13+ are AES-encrypted with keys only DJI's server hands out; never fetched).
"""
