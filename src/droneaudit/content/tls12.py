"""TLS 1.2 record decryption of one direction (RFC 5246); TLS 1.0 and 1.1 work the same way and only
differ in the PRF and the CBC IV, which ``tls_crypto`` handles.

Each side sends cleartext handshake records until its ChangeCipherSpec; every record after it is
protected with that side's keys from the key block, sequence numbers starting at 0. The key log gives
the master secret whatever the key exchange was (ECDHE, DHE, RSA, PSK), and extended master secret
changes nothing here because it only changes how that secret was made. A second ChangeCipherSpec
*inside* the encrypted stream means a renegotiation switched to keys of a new handshake; those are not
followed (reported), as they are very rare in app traffic.
"""

from __future__ import annotations

from droneaudit.content.tls_crypto import Opener
from droneaudit.content.tls_records import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    Direction,
    Plaintext,
    Record,
)


class Tls12Direction(Direction):
    """Cleartext until this side's ChangeCipherSpec, then decrypted with ``opener``."""

    def __init__(self, side: str, opener: Opener, out: Plaintext, notes: list[str]) -> None:
        super().__init__(side, out, notes)
        self.opener = opener
        self.encrypted = False

    def feed(self, record: Record) -> str | None:
        if not self.encrypted:
            if record.ctype == ALERT:
                self.alert(record.payload, record)  # e.g. the app refusing the server's certificate
            self.encrypted = record.ctype == CHANGE_CIPHER_SPEC
            return None
        opened = self.opener.open(record)
        if opened is None:
            return self.bad_mac(record)
        self.out.records += 1
        ctype, content = opened
        if ctype == APPLICATION_DATA:
            self.out.emit(content, record)
        elif ctype == ALERT:
            self.alert(content, record)
        elif ctype == CHANGE_CIPHER_SPEC:
            return f"renegotiation at {self.where(record)}: the new keys are not followed"
        return None
