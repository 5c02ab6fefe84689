"""Throwaway TLS material for tests: a private CA, a server certificate for 127.0.0.1/localhost, a wrong-host one.

Made with the ``cryptography`` package in the test, never committed, gone with the directory:

    tls = make_tls(str(tmp_path))        # {'ca': ..., 'server_cert': ..., 'server_key': ..., ...} (file paths)
    # HTTPS: ssl_context.load_cert_chain(tls['server_cert'], tls['server_key']); clients trust tls['ca']
    # PostgreSQL: PgCluster(ssl=tls) starts with ssl=on and this certificate

``other_ca`` is a second, unrelated CA (a client that trusts it must refuse the server); ``wrong_host_cert`` /
``wrong_host_key`` are signed by the right CA for a name that is not 127.0.0.1 or localhost (verify-full must
refuse it, verify-ca accepts it).
"""
from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1",)
# A name no test connects to (RFC 6761 reserves .invalid): a certificate for it is the wrong host.
WRONG_HOST = "db.almafrica.invalid"


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "almafrica.rollback tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (builder.not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2)))


def make_ca(common_name="almafrica.rollback test CA"):
    """A self-signed CA: ``(certificate, private key)``."""
    key = _key()
    name = _name(common_name)
    builder = _validity(x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                        .serial_number(x509.random_serial_number()))
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
        x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                      key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                      decipher_only=False), critical=True)
    return builder.sign(key, hashes.SHA256()), key


def make_server_cert(ca_cert, ca_key, dns_names=LOOPBACK_NAMES, ip_addresses=LOOPBACK_IPS):
    """A server certificate signed by the CA, with the names in its subjectAltName: ``(certificate, key)``."""
    key = _key()
    common_name = (list(dns_names) + list(ip_addresses))[0]
    sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    builder = _validity(x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
                        .public_key(key.public_key()).serial_number(x509.random_serial_number()))
    builder = (builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls(directory):
    """Write a CA, a server certificate for 127.0.0.1/localhost, a wrong-host certificate and an unrelated CA into
    ``directory``; returns their paths: ``ca``, ``server_cert``, ``server_key``, ``wrong_host_cert``,
    ``wrong_host_key``, ``other_ca`` (keys 0600, certificates 0644)."""
    os.makedirs(directory, exist_ok=True)
    ca_cert, ca_key = make_ca()
    server_cert, server_key = make_server_cert(ca_cert, ca_key)
    wrong_cert, wrong_key = make_server_cert(ca_cert, ca_key, dns_names=(WRONG_HOST,), ip_addresses=())
    other_ca, _ = make_ca("an unrelated CA")
    join = lambda name: os.path.join(directory, name)  # noqa: E731
    return {
        "ca": _write(join("ca.crt"), _cert_pem(ca_cert), 0o644),
        "server_cert": _write(join("server.crt"), _cert_pem(server_cert), 0o644),
        "server_key": _write(join("server.key"), _key_pem(server_key)),
        "wrong_host_cert": _write(join("wrong_host.crt"), _cert_pem(wrong_cert), 0o644),
        "wrong_host_key": _write(join("wrong_host.key"), _key_pem(wrong_key)),
        "other_ca": _write(join("other_ca.crt"), _cert_pem(other_ca), 0o644),
    }
