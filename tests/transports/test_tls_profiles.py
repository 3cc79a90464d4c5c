"""tls.cfg parsing (Kamailio's profile file format) and the start-up errors around
TLS: no server, just the parser, the ssl contexts and `kamapy` refusing to start."""

from __future__ import annotations

import ssl
import subprocess
import sys

import pytest
from kamapy_modules.tls.profiles import Profile, ProfileError, parse

from tests.support.ports import free_udp_port

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    return d


def write(d, text):
    p = d / "tls.cfg"
    p.write_text(text)
    return str(p)


def test_profiles_and_their_contexts(certs):
    path = write(certs, """
# comment
[server:default]
method = TLSv1.2+
certificate = server.pem      # relative to the file
private_key = server.pem
verify_certificate = yes
require_certificate = no

[server:127.0.0.1:5061]
method = TLSv1.3
certificate = server.pem
ca_list = ca.pem
verify_certificate = yes
require_certificate = yes

[client:default]
verify_certificate = no

[client:10.0.0.1:5061]
verify_certificate = yes
ca_list = ca.pem
server_name = peer.example
""")
    profiles = parse(path, Profile(cipher_list="HIGH"))
    assert [p.name for p in profiles] == ["server:default", "server:127.0.0.1:5061", "client:default",
                                          "client:10.0.0.1:5061"]
    srv, own, cli, peer = (p.build() for p in profiles)
    assert profiles[0].certificate == str(certs / "server.pem")
    assert srv.minimum_version == ssl.TLSVersion.TLSv1_2 and srv.verify_mode == ssl.CERT_OPTIONAL
    assert own.minimum_version == own.maximum_version == ssl.TLSVersion.TLSv1_3
    assert own.verify_mode == ssl.CERT_REQUIRED
    assert cli.verify_mode == ssl.CERT_NONE and peer.verify_mode == ssl.CERT_REQUIRED
    assert profiles[3].server_name == "peer.example"
    assert all(p.cipher_list == "HIGH" for p in profiles)   # modparam values are the defaults


@pytest.mark.parametrize("text,line,what", [
    ("[server:default\nmethod = TLSv1\n", 1, "a section is"),
    ("method = TLSv1\n", 1, "inside a [server:...]"),
    ("[peer:default]\n", 1, "[server:ADDRESS]"),
    ("[server:10.0.0.1]\n", 1, "must be default, any or ip:port"),
    ("[server:default]\nverify_certificate = maybe\n", 2, "expected yes or no"),
    ("[server:default]\ncolour = blue\n", 2, "unknown key 'colour'"),
    ("[client:default]\n[client:default]\n", 2, "defined twice"),
])
def test_bad_files_name_the_line(certs, text, line, what):
    path = write(certs, text)
    with pytest.raises(ProfileError) as e:
        parse(path)
    assert f"{path}:{line}:" in str(e.value) and what in str(e.value)


def test_bad_method_and_missing_files(certs):
    path = write(certs, "[server:default]\nmethod = TLSv9\ncertificate = server.pem\n")
    with pytest.raises(ProfileError, match="unknown method 'TLSv9'"):
        parse(path)[0].build()
    path = write(certs, "[server:default]\ncertificate = nothere.pem\n")
    with pytest.raises(ProfileError, match=r"tls.cfg:1: \[server:default\]"):
        parse(path)[0].build()
    with pytest.raises(ProfileError, match="cannot read the profile file"):
        parse(str(certs / "missing.cfg"))


def run_kamapy(cfg_text, tmp_path):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(cfg_text)
    p = subprocess.run([sys.executable, "-m", "kamapy", "-f", str(cfg), "-DD", "-E"],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stderr


def test_start_up_refuses_tls_without_module_and_bad_profile_file(tmp_path, certs):
    port = free_udp_port()
    rc, err = run_kamapy(f"enable_tls=yes\nlisten=tls:127.0.0.1:{port}\nrequest_route {{ drop; }}\n", tmp_path)
    assert rc != 0 and 'TLS needs the tls module (loadmodule "tls.so")' in err
    bad = write(certs, "[server:default]\ncertificate = server.pem\nfoo = 1\n")
    rc, err = run_kamapy(f'enable_tls=yes\nlisten=tls:127.0.0.1:{port}\nloadmodule "tls"\n'
                         f'modparam("tls", "config", "{bad}")\nrequest_route {{ drop; }}\n', tmp_path)
    assert rc != 0 and f"{bad}:3: unknown key 'foo'" in err and "Traceback" not in err
