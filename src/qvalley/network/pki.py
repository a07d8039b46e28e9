"""A demo PKI for the key-delivery network: a CA, KME server certificates, SAE client certificates.

Built with the ``cryptography`` package's x509 builder (EC P-256 keys, SHA-256 signatures). A KME
certificate carries ``CN=<node>`` and SAN ``DNS:localhost, IP:127.0.0.1`` (plus any extra hosts); an
SAE certificate carries ``CN=<SAE_ID>`` and the SAN URI ``urn:qvalley:sae:<SAE_ID>`` and is limited
to TLS client authentication. Private keys are written unencrypted with mode 0600: this is a demo CA.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .topology import NetworkError, Topology

SAE_URI_PREFIX = "urn:qvalley:sae:"


class PKIError(NetworkError):
    """Certificates cannot be created or read."""


@dataclass(frozen=True)
class Credential:
    """Paths of a certificate and its private key (PEM)."""

    cert: Path
    key: Path


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600 if private else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qvalley demo QKD network"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class DemoCA:
    """A certificate authority whose key and certificate live in ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.cert_path = self.directory / "ca.pem"
        self.key_path = self.directory / "ca.key"
        if not self.cert_path.exists():
            self._create()
        try:
            self.cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise PKIError(f"{self.directory}: cannot read the CA ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PKIError(f"{self.key_path}: CA key is not an EC key")
        self.key = key

    def _create(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(_name("qvalley demo QKD CA"))
                .issuer_name(_name("qvalley demo QKD CA")).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - _dt.timedelta(minutes=5))
                .not_valid_after(now + _dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                               critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _write(self.key_path, _key_pem(key), private=True)
        _write(self.cert_path, cert.public_bytes(serialization.Encoding.PEM))

    def _issue(self, cn: str, sans: list[x509.GeneralName], server: bool, stem: str, days: int) -> Credential:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.UTC)
        eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - _dt.timedelta(minutes=5))
                .not_valid_after(now + _dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        cred = Credential(self.directory / f"{stem}.pem", self.directory / f"{stem}.key")
        _write(cred.key, _key_pem(key), private=True)
        _write(cred.cert, cert.public_bytes(serialization.Encoding.PEM))
        return cred

    def issue_kme(self, node: str, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
                  days: int = 825) -> Credential:
        """Server certificate for the KME of ``node`` (``kme-<node>.pem``/``.key``)."""
        sans: list[x509.GeneralName] = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        return self._issue(node, sans, True, f"kme-{node}", days)

    def issue_sae(self, sae_id: str, days: int = 825) -> Credential:
        """Client certificate identifying SAE ``sae_id`` (``sae-<id>.pem``/``.key``)."""
        return self._issue(sae_id, [x509.UniformResourceIdentifier(SAE_URI_PREFIX + sae_id)], False,
                           f"sae-{sae_id}", days)


def create_network_pki(directory: str | Path, topology: Topology, *, nodes: list[str] | None = None,
                       hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> dict[str, Credential]:
    """Create (or reuse) the CA in ``directory`` and certificates for the KMEs and SAEs of ``nodes``
    (default: every node with an SAE). Returns ``{"ca": ..., "kme:<node>": ..., "sae:<id>": ...}``."""
    names = nodes if nodes is not None else [n.name for n in topology.nodes if n.sae_ids]
    for nm in names:
        topology.node(nm)  # all names checked before anything is written
    try:
        ca = DemoCA(directory)
        out = {"ca": Credential(ca.cert_path, ca.key_path)}
        for nm in names:
            out[f"kme:{nm}"] = ca.issue_kme(nm, hosts)
            for sae in topology.node(nm).sae_ids:
                out[f"sae:{sae}"] = ca.issue_sae(sae)
    except OSError as exc:
        raise PKIError(f"{directory}: cannot write certificates ({exc.strerror or exc})") from None
    return out


def sae_id_from_cert(der: bytes) -> str | None:
    """The SAE identity of a DER client certificate: the ``urn:qvalley:sae:`` SAN URI, else the CN."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith(SAE_URI_PREFIX):
                return uri[len(SAE_URI_PREFIX):]
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else None
