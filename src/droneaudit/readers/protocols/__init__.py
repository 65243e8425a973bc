"""Application-layer parsers for the few packets that name a remote: DNS, TLS ClientHello, QUIC Initial,
HTTP requests. Pure functions over bytes; damaged input returns None (never raises)."""
