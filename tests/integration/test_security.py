"""A node agent runs as root on every node: /metrics behind TLS, mutual TLS and
basic auth (the Prometheus exporters' web configuration file), the capabilities it
keeps once running, and what never leaves the node: query strings, headers,
bodies, client addresses."""
import ctypes
import ctypes.util
import re
import subprocess

import pytest
import requests

from conftest import REDSCOPE, curl_requests, free_port, wait_for, wait_for_total

CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 2, 19, 21, 38, 39


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and client certificates: one the CA
    signed, one self-signed."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    for name, cn in (("server", "127.0.0.1"), ("client", "scraper")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                "-keyout", str(d / (name + ".key")), "-out", str(d / (name + ".csr")))
        ext = d / (name + ".ext")
        ext.write_text("subjectAltName=IP:127.0.0.1\n" if name == "server" else
                       "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", str(d / (name + ".csr")), "-CA", str(d / "ca.crt"),
                "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", str(ext), "-out", str(d / (name + ".crt")))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rogue",
            "-keyout", str(d / "rogue.key"), "-out", str(d / "rogue.crt"))
    return d


def bcrypt(password):
    """A bcrypt hash (cost 10) from the system's libcrypt (libxcrypt), as htpasswd -B
    makes them: Python's crypt module is gone from Python 3.13."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1", use_errno=True)
    lib.crypt_gensalt.restype = lib.crypt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2b$", 10, None, 0)  # random bytes from the OS
    assert salt, "crypt_gensalt failed: errno %d" % ctypes.get_errno()
    h = lib.crypt(password.encode(), salt)
    assert h and h.startswith(b"$2b$10$"), h
    return h.decode()


def curl(*args):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "--max-time", "10"] + list(args), capture_output=True, text=True)
    return r.stdout


def test_tls_and_basic_auth(pki, tmp_path):
    users = "basic_auth_users:\n  alice: %s\n  bob: %s\n" % (bcrypt("s3cret"), bcrypt("hunter2"))
    proc = None
    try:
        config = ("tls_server_config:\n  cert_file: %s\n  key_file: %s\n%s"
                  % (pki / "server.crt", pki / "server.key", users))
        path = tmp_path / "web.yml"
        path.write_text(config)
        port = free_port()
        proc = subprocess.Popen([str(REDSCOPE), "--web.listen-address=127.0.0.1:%d" % port,
                                 "--web.config.file=%s" % path], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        url = "https://127.0.0.1:%d" % port
        ca = ["--cacert", str(pki / "ca.crt")]
        wait_for(lambda: curl(*ca, "-u", "alice:s3cret", url + "/healthz") == "200", 30,
                 what="redscope over TLS")
        # right, wrong, none
        assert curl(*ca, "-u", "alice:s3cret", url + "/metrics") == "200"
        assert curl(*ca, "-u", "bob:hunter2", url + "/metrics") == "200"
        assert curl(*ca, "-u", "alice:hunter2", url + "/metrics") == "401"
        assert curl(*ca, "-u", "mallory:s3cret", url + "/metrics") == "401"
        assert curl(*ca, url + "/metrics") == "401"
        r = requests.get(url + "/metrics", verify=str(pki / "ca.crt"), timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")
        r = requests.get(url + "/metrics", verify=str(pki / "ca.crt"), auth=("alice", "s3cret"),
                         timeout=10)
        assert "redscope_build_info" in r.text
        # plain HTTP to the TLS port gets no metrics, and does not hurt the server
        plain = subprocess.run(["curl", "-s", "--max-time", "5", "-u", "alice:s3cret",
                                "http://127.0.0.1:%d/metrics" % port], capture_output=True)
        assert b"redscope_build_info" not in plain.stdout
        assert curl(*ca, "-u", "alice:s3cret", url + "/metrics") == "200"
        # the server's certificate is the one configured
        assert curl("--cacert", str(pki / "rogue.crt"), "-u", "alice:s3cret", url + "/metrics") == "000"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
        assert "s3cret" not in out and "hunter2" not in out


def test_tls_versions_and_client_certificates(pki, tmp_path):
    config = ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
              "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
              "  min_version: TLS13\n")
    # relative file names are relative to the configuration file
    (pki / "web.yml").write_text(config)
    port = free_port()
    proc = subprocess.Popen([str(REDSCOPE), "--web.listen-address=127.0.0.1:%d" % port,
                             "--web.config.file=%s" % (pki / "web.yml")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = "https://127.0.0.1:%d/metrics" % port
        good = ["--cacert", str(pki / "ca.crt"), "--cert", str(pki / "client.crt"),
                "--key", str(pki / "client.key")]
        wait_for(lambda: curl(*good, url) == "200", 30, what="redscope with mutual TLS")
        assert curl("--cacert", str(pki / "ca.crt"), url) in ("000", "403")  # no certificate
        assert curl("--cacert", str(pki / "ca.crt"), "--cert", str(pki / "rogue.crt"),
                    "--key", str(pki / "rogue.key"), url) in ("000", "403")  # not the CA's
        assert curl(*good, "--tls-max", "1.2", url) == "000"  # below min_version
        assert curl(*good, "--tlsv1.3", url) == "200"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out


@pytest.mark.parametrize("config,message", [
    ("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
     "cannot read /nonexistent.crt"),
    ("basic_auth_users:\n  alice: plaintext\n", "must be a bcrypt hash"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n", None),
    ("tls_sever_config: {}\n", "unknown key tls_sever_config"),
    ("basic_auth_users: [\n", "invalid --web.config.file"),
])
def test_bad_web_configs_are_clear_errors(tmp_path, config, message):
    path = tmp_path / "web.yml"
    path.write_text(config)
    r = subprocess.run([str(REDSCOPE), "--web.listen-address=127.0.0.1:%d" % free_port(),
                        "--web.config.file=%s" % path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "level=error" in lines[0], r.stderr
    assert message is None or message in lines[0], lines[0]


def test_capabilities_once_running(redscope):
    rs = redscope()
    status = open("/proc/%d/status" % rs.proc.pid).read()
    caps = {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M)}
    keep = sum(1 << c for c in (CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_PERFMON, CAP_BPF))
    # a kernel that allows uprobes only with CAP_SYS_ADMIN keeps it, and says so
    if "allows uprobes only with CAP_SYS_ADMIN" in rs.logs():
        keep |= 1 << CAP_SYS_ADMIN
    print("kept capabilities: %#x" % keep)
    assert caps["CapEff"] == keep and caps["CapPrm"] == keep, caps
    assert caps["CapBnd"] == keep and caps["CapInh"] == 0 and caps["CapAmb"] == 0, caps
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)


def test_secrets_in_requests_never_leave_the_node(gunicorn, redscope, tmp_path):
    rs = redscope("-v")  # even the debug log
    app = gunicorn("redapp:app", "--workers", "2", env={"REDAPP_WORK_MS": "1"})
    secrets = ["tok3nQUERY", "Bearer-s3cr3tHEADER", "c00kieVALUE", "b0dySECRET"]
    for i in range(5):
        subprocess.run(["curl", "-s", "-o", "/dev/null",
                        "-H", "Authorization: Bearer-s3cr3tHEADER",
                        "-H", "Cookie: session=c00kieVALUE",
                        "-d", "password=b0dySECRET",
                        app.url + "/echo?api_key=tok3nQUERY&n=%d" % i], check=True)
        curl_requests(app.url, ["/ok?token=tok3nQUERY"])
    m = wait_for_total(rs, "redapp", 10)
    text = rs.scrape_text() + requests.get(rs.url + "/metrics", headers={
        "Accept": "application/openmetrics-text"}, timeout=10).text
    assert m.request_counts("redapp") == {("/echo", "POST", 200): 5, ("/ok", "GET", 200): 5}
    logs = rs.logs()
    for s in secrets + ["127.0.0.1:%d" % app.port]:
        assert s not in text, s
        assert s not in logs, s
    # no client address in any label
    assert not re.search(r'\{[^}]*"(127\.0\.0\.1|::1)', text)
