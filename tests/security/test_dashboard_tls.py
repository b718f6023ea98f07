"""The dashboard over HTTPS: the token and the sign-in cookie never cross the network in clear, and the
cookie is marked Secure (a real 'footfall serve' with a certificate made here, a real TLS client)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import VTEST, footfall_cmd
from tests.helpers import free_port

pytestmark = pytest.mark.slow
TOKEN = "tls-token-0123456789abcdef"


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "store-dashboard")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_sign_in_over_https_sets_a_secure_cookie(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    port = free_port()
    cfg = {
        "cameras": [
            {"name": "front", "source": str(VTEST), "lines": [{"name": "door", "points": [[240, 0], [240, 360]]}]}
        ],
        "storage": {"db": str(tmp_path / "footfall.db")},
        "metrics": {"port": 0},
        "dashboard": {"port": port, "token": TOKEN, "tls_cert": "cert.pem", "tls_key": "key.pem"},
    }
    (tmp_path / "edge.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(footfall_cmd("serve", "--config", str(tmp_path / "edge.yaml")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    context = ssl.create_default_context(cafile=str(cert))
    https = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                https.open(f"https://127.0.0.1:{port}/api/health", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.3)
        form = urllib.parse.urlencode({"token": TOKEN, "next": "/"}).encode()
        try:
            https.open(f"https://127.0.0.1:{port}/login", data=form, timeout=5)
            raise AssertionError("expected the sign-in redirect")
        except urllib.error.HTTPError as exc:
            assert exc.code == 303
            cookie = exc.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie, cookie
        # plain HTTP on the same port gets no dashboard
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/meta", timeout=5)
        health = https.open(f"https://127.0.0.1:{port}/api/health", timeout=5).read().decode()
        assert str(tmp_path) not in health, "the open health check shows no paths"
    finally:
        proc.terminate()
        proc.wait(30)
