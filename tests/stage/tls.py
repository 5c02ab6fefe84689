"""Throwaway TLS material for tests: a CA, certificates it signs, and HTTPS for the kit's http.server servers.

Everything is written as PEM files into a directory the caller gives (a pytest ``tmp_path``); functions return
paths, so any server can use them (http.server, PostgreSQL's ``ssl_cert_file``/``ssl_key_file``/``ssl_ca_file``,
client certificates). Keys are written 0600 (PostgreSQL refuses a key readable by others).

    ca = CertificateAuthority.create(tmp_path / "ca")
    server = ca.issue(tmp_path / "server", hosts=["127.0.0.1", "localhost"])       # server.cert, server.key
    wrong = ca.issue(tmp_path / "wrong", hosts=["127.0.0.2"])                      # valid, but not for 127.0.0.1
    other_ca = CertificateAuthority.create(tmp_path / "other-ca", name="Other CA")  # trusts nothing of ``ca``
    client = ca.issue(tmp_path / "client", hosts=[], common_name="rollback", client=True)
    serve_https(httpd, server)        # wrap a (Threading)HTTPServer's listening socket

Needs the ``cryptography`` package (an ansible-core dependency, pinned in constraints.txt).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import sys
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Issued:
    """A certificate and its key, as PEM files; ``ca`` is the PEM of the CA that signed it."""

    cert: str
    key: str
    ca: str


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)
    return str(path)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "almafrica.rollback tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(hosts):
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


class CertificateAuthority:
    """A self-signed CA whose certificate and key are files in ``directory`` (``ca.crt``, ``ca.key``)."""

    def __init__(self, directory, cert, key, cert_path, key_path):
        self.directory = str(directory)
        self._cert, self._key = cert, key
        self.cert_path, self.key_path = cert_path, key_path

    @classmethod
    def create(cls, directory, name="almafrica.rollback test CA", days=2):
        os.makedirs(directory, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(_name(name)).issuer_name(_name(name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False),
                               critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        cert_path = _write(os.path.join(directory, "ca.crt"), cert.public_bytes(serialization.Encoding.PEM), 0o644)
        key_path = _write(os.path.join(directory, "ca.key"), _key_pem(key), 0o600)
        return cls(directory, cert, key, cert_path, key_path)

    def issue(self, directory, hosts=("127.0.0.1", "localhost"), common_name=None, client=False, days=2,
              name="server"):
        """A certificate signed by this CA for ``hosts`` (IP addresses and DNS names, in the SAN), written as
        ``<name>.crt``/``<name>.key`` in ``directory``. ``client=True`` makes a client certificate (for
        PostgreSQL's ``cert`` authentication the common name is the user name)."""
        os.makedirs(directory, exist_ok=True)
        hosts = list(hosts)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(common_name or (hosts[0] if hosts else "client")))
                   .issuer_name(self._cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                                  critical=False))
        if hosts:
            builder = builder.add_extension(_san(hosts), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_path = _write(os.path.join(directory, name + ".crt"), cert.public_bytes(serialization.Encoding.PEM), 0o644)
        key_path = _write(os.path.join(directory, name + ".key"), _key_pem(key), 0o600)
        return Issued(cert=cert_path, key=key_path, ca=self.cert_path)


def server_context(issued):
    """An SSLContext serving ``issued`` (TLS 1.2+)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(issued.cert, issued.key)
    return ctx


def serve_https(httpd, issued):
    """Make an http.server server (started or not, before any client connects) speak HTTPS with ``issued``.

    The handshake runs in the handler's thread (``do_handshake_on_connect=False``), so a client that refuses the
    certificate cannot stall the accept loop. Handshakes the client refused are recorded (not printed) in
    ``httpd.tls_errors``. Returns the https base URL."""
    httpd.socket = server_context(issued).wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    httpd.tls_errors = []
    default_handle_error = httpd.handle_error

    def handle_error(request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionResetError)):
            httpd.tls_errors.append(str(exc))
        else:
            default_handle_error(request, client_address)

    httpd.handle_error = handle_error
    host, port = httpd.server_address[:2]
    return "https://%s:%d" % (host, port)
