"""Enrichment: facts about a flow's far end that the capture itself does not carry.

Everything here is offline by default and injectable: the data ships inside the package, nothing is
looked up at run time, and tests can pass fixed tables instead of the shipped ones.

* ``droneaudit.enrich.ipdata``: who owns an address (AS number, organisation) and which country it is
  registered to and geolocated in (data and attribution: ``droneaudit/data/ipdata/``).
* ``droneaudit.enrich.catalog``: which known service a host name belongs to.
"""

__all__: list[str] = []
