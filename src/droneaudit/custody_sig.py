"""Signatures for chain of custody, in OpenSSH's SSHSIG format (``PROTOCOL.sshsig``), namespace
``droneaudit``.

One format whoever signs: an Ed25519 key given raw (32 bytes, or 64 hex digits) or as PEM (PKCS#8) is
used through ``cryptography``; an OpenSSH private key is handed to ``ssh-keygen -Y sign`` (so
passphrases, FIDO and agent-held keys work as they do for git). Either way the result is an armored
``-----BEGIN SSH SIGNATURE-----`` file that ``ssh-keygen -Y verify`` / ``-Y check-novalidate`` accepts,
so anyone can check it without droneaudit. Ed25519 signatures are verified here; other key types (RSA,
ECDSA from ``ssh-keygen``) through ``ssh-keygen -Y check-novalidate``. Nothing here opens a socket
(``SSH_AUTH_SOCK`` is removed from ``ssh-keygen``'s environment).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from droneaudit.errors import UsageError

NAMESPACE = b"droneaudit"
_MAGIC = b"SSHSIG"
_BEGIN, _END = "-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"
_ED25519 = b"ssh-ed25519"
_HASHES = (b"sha256", b"sha512")


class SignatureError(Exception):
    """A signature that is malformed, of another namespace, or does not match the data."""


@dataclass(frozen=True)
class Signature:
    """A parsed SSHSIG: who (public key blob) signed what kind of digest, and the raw signature blob."""

    public_key: bytes
    namespace: bytes
    hash_alg: bytes
    signature: bytes
    armored: str

    @property
    def key_type(self) -> str:
        return _strings(self.public_key, 1)[0].decode("ascii", "replace")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _strings(data: bytes, count: int, pos: int = 0) -> list[bytes]:
    """``count`` SSH wire strings from ``data`` at ``pos``; SignatureError when they do not fit."""
    out = []
    for _ in range(count):
        if pos + 4 > len(data):
            raise SignatureError("signature is cut short")
        (size,) = struct.unpack_from(">I", data, pos)
        if pos + 4 + size > len(data):
            raise SignatureError("signature is cut short")
        out.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


def fingerprint(public_blob: bytes) -> str:
    """OpenSSH's fingerprint of a public key blob: ``SHA256:`` and unpadded base64."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_blob).digest()).decode().rstrip("=")


def ed25519_blob(key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _string(_ED25519) + _string(raw)


def public_line(public_blob: bytes) -> str:
    """The key as an OpenSSH public key line, with its fingerprint as the comment."""
    kind = _strings(public_blob, 1)[0].decode("ascii", "replace")
    return f"{kind} {base64.b64encode(public_blob).decode()} {fingerprint(public_blob)}\n"


def _signed_data(message: bytes, hash_alg: bytes) -> bytes:
    digest = hashlib.new(hash_alg.decode(), message).digest()
    return _MAGIC + _string(NAMESPACE) + _string(b"") + _string(hash_alg) + _string(digest)


def armor(blob: bytes) -> str:
    text = base64.b64encode(blob).decode()
    return "\n".join([_BEGIN, *(text[i : i + 70] for i in range(0, len(text), 70)), _END]) + "\n"


def sign_ed25519(key: Ed25519PrivateKey, message: bytes) -> str:
    """An armored SSHSIG over ``message`` (SHA-512, as ssh-keygen makes them)."""
    raw_sig = key.sign(_signed_data(message, b"sha512"))
    blob = _MAGIC + struct.pack(">I", 1) + _string(ed25519_blob(key.public_key()))
    blob += _string(NAMESPACE) + _string(b"") + _string(b"sha512")
    return armor(blob + _string(_string(_ED25519) + _string(raw_sig)))


def parse(armored: str) -> Signature:
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise SignatureError("not an armored SSH signature")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise SignatureError("signature is not valid base64") from exc
    if blob[:6] != _MAGIC or blob[6:10] != struct.pack(">I", 1):
        raise SignatureError("not an SSHSIG version 1 signature")
    key, namespace, _reserved, hash_alg, sig = _strings(blob, 5, 10)
    return Signature(key, namespace, hash_alg, sig, armored)


def verify(sig: Signature, message: bytes) -> None:
    """Raise SignatureError unless ``sig`` is a droneaudit signature of ``message`` by its own key."""
    if sig.namespace != NAMESPACE:
        raise SignatureError(f"signature is for namespace {sig.namespace.decode('ascii', 'replace')!r}")
    if sig.hash_alg not in _HASHES:
        raise SignatureError(f"unsupported hash {sig.hash_alg.decode('ascii', 'replace')!r}")
    if sig.key_type != _ED25519.decode():
        _verify_with_ssh_keygen(sig, message)
        return
    _kind, raw_key = _strings(sig.public_key, 2)
    sig_kind, raw_sig = _strings(sig.signature, 2)
    if sig_kind != _ED25519:
        raise SignatureError("signature type does not match the key")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, _signed_data(message, sig.hash_alg))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature does not match the data") from exc


def ssh_keygen() -> str | None:
    return shutil.which("ssh-keygen")


def _ssh_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}


def _verify_with_ssh_keygen(sig: Signature, message: bytes) -> None:
    tool = ssh_keygen()
    if tool is None:
        raise SignatureError(f"{sig.key_type} signatures are checked with ssh-keygen, which is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        sig_file = Path(tmp) / "data.sig"
        sig_file.write_text(sig.armored, encoding="ascii")
        args = [tool, "-Y", "check-novalidate", "-n", NAMESPACE.decode(), "-s", str(sig_file)]
        done = subprocess.run(args, input=message, capture_output=True, env=_ssh_env(), check=False)
    if done.returncode != 0:
        raise SignatureError("signature does not match the data (ssh-keygen)")


def sign_with_ssh_keygen(key: Path, target: Path) -> str:
    """``ssh-keygen -Y sign`` over ``target``'s bytes; returns the armored signature."""
    tool = ssh_keygen()
    if tool is None:
        raise UsageError("--sign with an OpenSSH key needs ssh-keygen (Debian package openssh-client)")
    args = [tool, "-Y", "sign", "-n", NAMESPACE.decode(), "-f", str(key), "-q"]
    done = subprocess.run(args, input=target.read_bytes(), capture_output=True, env=_ssh_env(), check=False)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"ssh-keygen could not sign with {key}: {reason[-1] if reason else 'failed'}")
    return done.stdout.decode("ascii")


def load_signing_key(path: Path) -> Ed25519PrivateKey | Path:
    """An Ed25519 private key (raw 32 bytes, 64 hex digits, or unencrypted PEM/PKCS#8), or ``path``
    itself when it is an OpenSSH private key (signed with ssh-keygen)."""
    data = _read_key(path, "--sign")
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        return path
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise UsageError(
                f"--sign {path}: not a usable PEM private key ({exc}); or use an OpenSSH key"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError(f"--sign {path}: a PEM key must be Ed25519 (for RSA/ECDSA use an OpenSSH key)")
        return key
    raw = _raw32(data)
    if raw is None:
        raise UsageError(
            f"--sign {path}: expected an Ed25519 key (32 raw bytes, 64 hex digits, PEM or OpenSSH)"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_trusted_key(path: Path) -> bytes:
    """The public key blob of ``--key``: an OpenSSH public key line (any type), a PEM public key, or a
    raw Ed25519 public key (32 bytes or 64 hex digits)."""
    data = _read_key(path, "--key")
    fields = data.decode("utf-8", "replace").split()
    if len(fields) >= 2 and fields[0].startswith(("ssh-", "ecdsa-", "sk-")):
        try:
            blob = base64.b64decode(fields[1], validate=True)
        except ValueError:
            raise UsageError(f"--key {path}: the OpenSSH public key is not valid base64") from None
        if _strings(blob, 1)[0].decode("ascii", "replace") != fields[0]:
            raise UsageError(f"--key {path}: the key type does not match its contents")
        return blob
    if b"BEGIN PUBLIC KEY" in data:
        key = serialization.load_pem_public_key(data)
        if isinstance(key, Ed25519PublicKey):
            return ed25519_blob(key)
        raise UsageError(f"--key {path}: a PEM public key must be Ed25519 (else give the OpenSSH .pub line)")
    raw = _raw32(data)
    if raw is None:
        raise UsageError(f"--key {path}: expected a public key (OpenSSH .pub line, PEM, or raw Ed25519)")
    return ed25519_blob(Ed25519PublicKey.from_public_bytes(raw))


def _read_key(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()[: 1 << 16]
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None


def _raw32(data: bytes) -> bytes | None:
    if len(data) == 32:
        return data
    text = data.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
    return None
