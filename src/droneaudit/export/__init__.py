"""Exporters: case data turned into files other tools read (GeoJSON for GIS tools, block lists for
resolvers and firewalls).

Exporters never compute findings and never read evidence: they reshape records the readers and checks
already produced, deterministically, so two exports of one case are byte-identical.
"""
