"""Signed test videos: a small CA and an ES256 signer made with ``cryptography``, MP4s signed with c2pa-python."""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
SIGNER_NAME, SIGNER_ORG, CA_NAME = "Test Video Generator", "Test Generator Inc", "Test Root CA"


@dataclass(frozen=True)
class SigningChain:
    chain_pem: str  # the end-entity certificate, then the CA's
    key_pem: str
    ca_pem: str  # the trust anchor


def _name(common: str, org: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    )


def _usage(signing: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False)
    return x509.KeyUsage(
        digital_signature=signing,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
        **flags,
    )


def make_chain(ca_common: str = CA_NAME) -> SigningChain:
    """A CA (basicConstraints CA:true) and an ES256 end-entity certificate it issued (digitalSignature,
    emailProtection, subject and authority key identifiers): what c2pa-python accepts for signing."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(ca_common, "Test CA Org")

    def certificate(subject, public_key, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_usage(signing=not ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()

    ca_pem = certificate(ca_name, ca_key.public_key(), ca=True)
    leaf = certificate(_name(SIGNER_NAME, SIGNER_ORG), key.public_key(), ca=False)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningChain(leaf + ca_pem, key_pem, ca_pem)


def write_mp4(path: Path, frames: int = 8, size: tuple[int, int] = (48, 64)) -> Path:
    """A tiny MPEG-4 Part 2 MP4 (PyAV), its bytes the same on every run for the same arguments."""
    height, width = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            picture = np.full((height, width, 3), (i * 29) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_webm(path: Path, frames: int = 4) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            picture = np.full((48, 64, 3), i * 40, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return path


def actions_manifest(title: str, source_type: str, agent: str, generator: str = "TestGen") -> dict:
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": {"name": agent}}
                    ]
                },
            }
        ],
    }


def sign(source: Path, target: Path, chain: SigningChain, manifest: dict, parent: Path | None = None) -> Path:
    """``source`` signed into ``target``; with ``parent``, that (signed) file is the manifest's parent ingredient,
    labelled ``parent`` (a ``c2pa.opened`` action names it by that label)."""
    import c2pa

    info = c2pa.C2paSignerInfo(b"es256", chain.chain_pem.encode(), chain.key_pem.encode(), None)
    settings = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
    with c2pa.Signer.from_info(info) as signer, c2pa.Context.from_dict(settings) as context:
        builder = c2pa.Builder(manifest, context=context)
        if parent is not None:
            with open(parent, "rb") as handle:
                builder.add_ingredient(
                    {"title": parent.name, "relationship": "parentOf", "label": "parent"}, "video/mp4", handle
                )
        with open(source, "rb") as src, open(target, "w+b") as dst:
            builder.sign(signer, "video/mp4", src, dst)
    return target


def top_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of the top-level boxes of an MP4's bytes (32-bit sizes, as PyAV writes them)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append((kind, offset, size))
        offset += size
    return boxes


def changed_in_box(source: Path, target: Path, kind: bytes, position: float = 0.5, every: int = 0) -> Path:
    """A copy of ``source`` with one byte of its first ``kind`` box flipped (``every``: every n-th byte after
    its header and uuid instead)."""
    data = bytearray(source.read_bytes())
    _, offset, size = next(box for box in top_boxes(bytes(data)) if box[0] == kind)
    if every:
        for i in range(offset + 40, offset + size, every):
            data[i] ^= 0x5A
    else:
        data[offset + 8 + int((size - 8) * position)] ^= 0xFF
    target.write_bytes(bytes(data))
    return target
