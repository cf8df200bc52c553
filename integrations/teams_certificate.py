"""The key Microsoft Graph encrypts a Teams meeting's rich notifications for
(`RDV_TEAMS_CERTIFICATE`), and the decryption of their content as Microsoft documents it
(reference/teams.md 7.6): the content's key decrypted with our private key (RSA-OAEP, SHA-1),
its HMAC-SHA256 checked, the content decrypted (AES-CBC, the key's first 16 bytes as IV)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

from ._webhook_util import Obj, opt_text, same
from .base import NotConfigured
from .events import WebhookRejected


@dataclass(frozen=True)
class NotificationKey:
    """What Graph encrypts rich notifications for: our RSA key and its certificate (base64 DER,
    what a subscription carries), named by `id` (`encryptionCertificateId`)."""

    id: str
    private_key: RSAPrivateKey
    certificate: str

    def __repr__(self) -> str:
        return f"NotificationKey({self.id!r})"


def load_notification_key(path: str | Path) -> NotificationKey:
    """The key of `RDV_TEAMS_CERTIFICATE`: a PEM file with an RSA private key of 2,048 to 4,096
    bits, and its certificate if it has one (otherwise one is made from the key alone, the
    same every time: Graph does not check who issued it). NotConfigured says what is wrong with
    it, never its contents."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise NotConfigured(
            f"RDV_TEAMS_CERTIFICATE: cannot read {path} ({error.strerror})"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise NotConfigured(
            f"RDV_TEAMS_CERTIFICATE: {path} holds no unencrypted PEM private key"
        ) from None
    if not isinstance(key, RSAPrivateKey) or not 2048 <= key.key_size <= 4096:
        raise NotConfigured(
            f"RDV_TEAMS_CERTIFICATE: {path} is not an RSA key of 2048 to 4096 bits (Graph's rule)"
        )
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        certificate = _self_signed(key)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) != key.public_key().public_bytes(serialization.Encoding.DER, public):
        raise NotConfigured(f"RDV_TEAMS_CERTIFICATE: in {path}, the certificate is not the key's")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return NotificationKey(
        "rdv-" + hashlib.sha256(der).hexdigest()[:32], key, base64.b64encode(der).decode()
    )


def _self_signed(key: RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rdv-orchestrator notifications")])
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(spki).digest()[:16]) >> 1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2099, 12, 31, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )


def decrypt(content: Obj, key: NotificationKey) -> bytes:
    """A rich notification's content, as Microsoft documents it; refused unless its signature
    holds."""
    if opt_text(content, "encryptionCertificateId") != key.id:
        raise WebhookRejected(
            "the notification is encrypted for a certificate rdv does not hold "
            "(did RDV_TEAMS_CERTIFICATE change?)"
        )
    try:
        data_key = key.private_key.decrypt(
            _b64(content, "dataKey"),
            asymmetric.OAEP(
                mgf=asymmetric.MGF1(algorithm=hashes.SHA1()),  # noqa: S303 (Graph's choice)
                algorithm=hashes.SHA1(),  # noqa: S303
                label=None,
            ),
        )
    except ValueError:
        raise WebhookRejected("the notification's key does not decrypt with ours") from None
    data = _b64(content, "data")
    signature = hmac.new(data_key, data, hashlib.sha256).digest()
    if not same(signature, _b64(content, "dataSignature")):
        raise WebhookRejected("the notification's data signature does not match")
    if len(data_key) not in (16, 24, 32) or not data or len(data) % 16:
        raise WebhookRejected("the notification's content is not AES-CBC")
    decryptor = Cipher(algorithms.AES(data_key), modes.CBC(data_key[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise WebhookRejected("the notification's content does not decrypt") from None


def _b64(content: Obj, name: str) -> bytes:
    value = content.get(name)
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        return b""
