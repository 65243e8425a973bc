"""TLS 1.3 record decryption of one direction (RFC 8446).

After the hellos every record is an opaque "application_data" record; the real content type is the
last non-zero byte of the decrypted inner plaintext. Each side uses its handshake traffic secret until
its own Finished, then its application traffic secret ``_0``; a KeyUpdate moves that side to the next
generation ("traffic upd"), which needs no further key log line, so it is followed. Compatibility-mode
ChangeCipherSpec records are skipped, NewSessionTicket and post-handshake authentication change no keys.

0-RTT: when the ClientHello offers early data, the client's first encrypted records may be early data
(CLIENT_EARLY_TRAFFIC_SECRET, up to EndOfEarlyData) or, if the server refused it, records nobody can
read. Which one is decided per record by trying the handshake key first (the server does the same
trial, RFC 8446 §4.2.10); early records we cannot open are counted and reported, not fatal.
"""

from __future__ import annotations

from dataclasses import dataclass

from droneaudit.content.tls_crypto import Tls13Aead
from droneaudit.content.tls_hello import Malformed, extensions, selected_alpn
from droneaudit.content.tls_records import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    Direction,
    HandshakeReader,
    Plaintext,
    Record,
)
from droneaudit.content.tls_suites import Suite

END_OF_EARLY_DATA, ENCRYPTED_EXTENSIONS, FINISHED, KEY_UPDATE = 5, 8, 20, 24
EARLY, HANDSHAKING, APPLICATION = "early", "handshake", "application"
#: Unreadable 0-RTT records tolerated before the client direction is given up.
MAX_SKIPPED_EARLY = 64


@dataclass(frozen=True, slots=True)
class SideSecrets:
    """One side's traffic secrets from the key log, with the labels they came from (for messages)."""

    handshake: bytes | None
    application: bytes | None
    early: bytes | None
    labels: tuple[str, str]  #: (handshake label, application label)


def side_secrets(side: str, secrets: dict[str, bytes]) -> SideSecrets:
    prefix = "CLIENT" if side == "client" else "SERVER"
    hs, app = f"{prefix}_HANDSHAKE_TRAFFIC_SECRET", f"{prefix}_TRAFFIC_SECRET_0"
    early = secrets.get("CLIENT_EARLY_TRAFFIC_SECRET") if side == "client" else None
    return SideSecrets(secrets.get(hs), secrets.get(app), early, (hs, app))


class Tls13Direction(Direction):
    """One side's records after its hello, decrypted with the secrets the key log has for it."""

    def __init__(
        self, side: str, suite: Suite, secrets: SideSecrets, out: Plaintext, notes: list[str], early: bool
    ) -> None:
        super().__init__(side, out, notes)
        self.secrets = secrets
        self.handshake_keys = Tls13Aead(suite, secrets.handshake) if secrets.handshake else None
        self.early_keys = Tls13Aead(suite, secrets.early) if secrets.early else None
        self.suite = suite
        self.phase = EARLY if early and (self.handshake_keys or self.early_keys) else HANDSHAKING
        self.current: Tls13Aead | None = self.handshake_keys
        self.next: tuple[str, Tls13Aead | None] | None = None
        self.reader = HandshakeReader()
        self.alpn: str | None = None  #: from the server's EncryptedExtensions
        self.skipped_early = 0
        self.early_records = 0  #: 0-RTT records read with CLIENT_EARLY_TRAFFIC_SECRET
        self.key_updates: list[str] = []  #: where each KeyUpdate took effect (events, not problems)

    def feed(self, record: Record) -> str | None:
        if record.ctype != APPLICATION_DATA:
            if record.ctype == ALERT:
                self.alert(record.payload, record)  # e.g. the server refusing the ClientHello
            return None  # hellos, compatibility ChangeCipherSpec
        if self.phase == EARLY:
            return self._early(record)
        if self.current is None:
            label = self.secrets.labels[self.phase == APPLICATION]
            return f"no {label} in the key log for {self.where(record)}"
        opened = self.current.open(record)
        if opened is None:
            return self.bad_mac(record)
        return self._opened(record, *opened)

    def _early(self, record: Record) -> str | None:
        """Trial: the handshake key ends the early phase; the early key reads 0-RTT data; else skip."""
        for phase, keys in ((HANDSHAKING, self.handshake_keys), (EARLY, self.early_keys)):
            opened = keys.open(record) if keys is not None else None
            if opened is not None:
                self.phase, self.current = phase, keys
                self.early_records += phase == EARLY
                return self._opened(record, *opened)
        self.skipped_early += 1
        if self.skipped_early > MAX_SKIPPED_EARLY:
            return f"0-RTT early data not decrypted ({self.skipped_early} records)"
        return None

    def _opened(self, record: Record, ctype: int, content: bytes) -> str | None:
        self.out.records += 1
        if ctype == APPLICATION_DATA:
            self.out.emit(content, record)
        elif ctype == HANDSHAKE:
            for mtype, body in self.reader.feed(content):
                self._message(mtype, body, record)
        elif ctype == ALERT:
            self.alert(content, record)
        elif ctype != CHANGE_CIPHER_SPEC:
            return f"no inner content type ({ctype}) at {self.where(record)}"
        if self.next is not None:
            (self.phase, self.current), self.next = self.next, None
        return None

    def _message(self, mtype: int, body: bytes, record: Record) -> None:
        """Key changes take effect after the record (they must end it, RFC 8446 §5.1)."""
        if mtype == FINISHED and self.phase == HANDSHAKING:
            application = self.secrets.application
            self.next = (APPLICATION, Tls13Aead(self.suite, application) if application else None)
        elif mtype == END_OF_EARLY_DATA and self.phase == EARLY:
            self.next = (HANDSHAKING, self.handshake_keys)
        elif mtype == KEY_UPDATE and self.phase == APPLICATION and self.current is not None:
            self.key_updates.append(f"key update at {self.where(record)}")
            self.next = (APPLICATION, self.current.updated())
        elif mtype == ENCRYPTED_EXTENSIONS:
            try:
                self.alpn = selected_alpn(extensions(body, 0))
            except Malformed:
                self.notes.append(f"malformed EncryptedExtensions at {self.where(record)}")

    def events(self) -> list[str]:
        """What went as expected but is worth knowing: key updates, 0-RTT data read."""
        early = [f"0-RTT early data: {self.early_records} records decrypted"] if self.early_records else []
        return early + self.key_updates

    def skipped_note(self) -> str | None:
        if not self.skipped_early:
            return None
        return f"0-RTT early data not decrypted ({self.skipped_early} records)"
