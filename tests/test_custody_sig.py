"""SSHSIG signatures: what droneaudit signs, ssh-keygen accepts, and the other way round.

The independent oracles are OpenSSH's ``ssh-keygen -Y verify`` / ``-Y sign`` / ``-l`` (skipped when
ssh-keygen is absent; ``.ci/run`` installs openssh-client) and a from-the-spec re-computation of the
signed data (``PROTOCOL.sshsig``) checked with ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from droneaudit import custody_sig as sig
from droneaudit.errors import UsageError

SEED = bytes(range(32))
MESSAGE = b'{"schema_version": "1.1"}\n'


def _ssh_keygen() -> str:
    path = shutil.which("ssh-keygen")
    if path is None:
        pytest.skip("ssh-keygen not installed (apt-get install openssh-client); it is the oracle here")
    return path


def _keypair(tmp_path: Path, kind: str = "ed25519") -> Path:
    key = tmp_path / f"id_{kind}"
    subprocess.run([_ssh_keygen(), "-q", "-t", kind, "-N", "", "-C", "t", "-f", str(key)], check=True)
    return key


def _ssh_verify(
    tmp_path: Path, public_line: str, armored: str, message: bytes
) -> subprocess.CompletedProcess[bytes]:
    signers = tmp_path / "allowed_signers"
    signers.write_text("examiner " + " ".join(public_line.split()[:2]) + "\n")
    sig_file = tmp_path / "m.sig"
    sig_file.write_text(armored)
    args = [_ssh_keygen(), "-Y", "verify", "-f", str(signers), "-I", "examiner", "-n", "droneaudit"]
    return subprocess.run([*args, "-s", str(sig_file)], input=message, capture_output=True, check=False)


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def test_our_signature_is_accepted_by_ssh_keygen(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    armored = sig.sign_ed25519(key, MESSAGE)
    line = sig.public_line(sig.ed25519_blob(key.public_key()))
    assert _ssh_verify(tmp_path, line, armored, MESSAGE).returncode == 0
    assert _ssh_verify(tmp_path, line, armored, MESSAGE + b" ").returncode != 0


def test_our_signature_matches_the_spec_checked_with_cryptography() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    blob = base64.b64decode("".join(sig.sign_ed25519(key, MESSAGE).splitlines()[1:-1]))
    assert blob.startswith(b"SSHSIG\x00\x00\x00\x01")
    raw_sig = blob[-64:]
    signed = b"SSHSIG" + _ssh_string(b"droneaudit") + _ssh_string(b"") + _ssh_string(b"sha512")
    signed += _ssh_string(hashlib.sha512(MESSAGE).digest())
    key.public_key().verify(raw_sig, signed)  # raises if the layout were wrong


def test_ssh_keygen_signatures_verify_here(tmp_path: Path) -> None:
    for kind in ("ed25519", "ecdsa"):
        key = _keypair(tmp_path, kind)
        done = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-n", "droneaudit", "-f", str(key), "-q"],
            input=MESSAGE,
            capture_output=True,
            check=True,
        )
        parsed = sig.parse(done.stdout.decode())
        sig.verify(parsed, MESSAGE)
        with pytest.raises(sig.SignatureError):
            sig.verify(parsed, MESSAGE[:-1])
        assert parsed.public_key == sig.load_trusted_key(key.with_suffix(".pub"))


def test_other_namespaces_and_damaged_armor_are_refused(tmp_path: Path) -> None:
    key = _keypair(tmp_path)
    done = subprocess.run(
        [_ssh_keygen(), "-Y", "sign", "-n", "git", "-f", str(key), "-q"],
        input=MESSAGE,
        capture_output=True,
        check=True,
    )
    with pytest.raises(sig.SignatureError, match="namespace"):
        sig.verify(sig.parse(done.stdout.decode()), MESSAGE)
    good = sig.sign_ed25519(Ed25519PrivateKey.from_private_bytes(SEED), MESSAGE)
    for broken in (
        "",
        good.replace("SSH SIGNATURE", "PGP SIGNATURE"),
        good[:120] + "\n" + good[-30:],
        "x" + good,
    ):
        with pytest.raises(sig.SignatureError):
            sig.parse(broken)


def test_fingerprint_is_the_one_ssh_keygen_prints(tmp_path: Path) -> None:
    key = _keypair(tmp_path)
    listed = subprocess.run(
        [_ssh_keygen(), "-l", "-f", str(key.with_suffix(".pub"))], capture_output=True, text=True, check=True
    )
    assert sig.fingerprint(sig.load_trusted_key(key.with_suffix(".pub"))) == listed.stdout.split()[1]


def test_signing_keys_in_every_accepted_form(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forms = {"raw": SEED, "hex": SEED.hex().encode() + b"\n", "pem": pem}
    for name, data in forms.items():
        path = tmp_path / name
        path.write_bytes(data)
        loaded = sig.load_signing_key(path)
        assert isinstance(loaded, Ed25519PrivateKey)
        assert loaded.private_bytes_raw() == SEED
    openssh = _keypair(tmp_path)
    assert sig.load_signing_key(openssh) == openssh  # handed to ssh-keygen


def test_unusable_keys_are_usage_errors(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ecdsa_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for name, data in {"short": b"abc", "ecdsa.pem": ecdsa_pem, "text": b"not a key at all\n"}.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(UsageError, match="--sign"):
            sig.load_signing_key(path)
    with pytest.raises(UsageError, match="cannot read"):
        sig.load_signing_key(tmp_path / "missing")
    with pytest.raises(UsageError, match="--key"):
        sig.load_trusted_key(tmp_path / "text")


def test_trusted_keys_in_every_accepted_form(tmp_path: Path) -> None:
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key()
    blob = sig.ed25519_blob(public)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    for name, data in {
        "raw": raw,
        "hex": raw.hex().encode(),
        "pem": pem,
        "pub": line + b" me@host\n",
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert sig.load_trusted_key(path) == blob
