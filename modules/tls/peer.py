"""What a TLS connection's handshake told us, for the $tls_* pseudo-variables
(Kamailio: tls_select.c). Kept per TCP reader, by connection id: a message is always
handled in the reader that owns its connection, so the lookup never leaves the
process.

Subjects and issuers print as OpenSSL's X509_NAME_oneline does ("/C=DE/O=x/CN=y"),
which is what Kamailio's $tls_peer_subject shows.
"""

from __future__ import annotations

import ssl

_conns: dict[int, dict] = {}

_SHORT = {"countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
          "organizationName": "O", "organizationalUnitName": "OU", "commonName": "CN",
          "emailAddress": "emailAddress", "serialNumber": "serialNumber"}


def _oneline(name) -> str:
    """cryptography Name -> "/C=../O=../CN=.."."""
    parts = []
    for rdn in name.rdns:
        for attr in rdn:
            key = attr.oid._name
            parts.append(f"{_SHORT.get(key, key)}={attr.value}")
    return "/" + "/".join(parts) if parts else ""


def _cert_info(der: bytes | None, prefix: str, out: dict):
    if not der:
        return
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return
    out[prefix + "subject"] = _oneline(cert.subject)
    out[prefix + "issuer"] = _oneline(cert.issuer)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    out[prefix + "subject_cn"] = cns[0].value if cns else None
    icns = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    out[prefix + "issuer_cn"] = icns[0].value if icns else None
    out[prefix + "serial"] = cert.serial_number
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        emails = san.get_values_for_type(x509.RFC822Name)
        ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, uris, emails, ips = [], [], [], []
    out[prefix + "san_dns"] = dns[0] if dns else None
    out[prefix + "san_uri"] = uris[0] if uris else None
    out[prefix + "san_email"] = emails[0] if emails else None
    out[prefix + "san_ip"] = ips[0] if ips else None


def describe(sock: ssl.SSLSocket) -> dict:
    info: dict = {}
    try:
        info["version"] = sock.version()
        cipher = sock.cipher()
        if cipher:
            info["cipher"], _proto, info["bits"] = cipher
        der = sock.getpeercert(binary_form=True)
        # a certificate checked by OpenSSL: verify_mode asked for one and it passed
        info["verified"] = bool(der) and sock.context.verify_mode != ssl.CERT_NONE
        _cert_info(der, "peer_", info)
    except (ssl.SSLError, OSError, ValueError):
        pass
    return info


def remember(conid: int, info: dict):
    _conns[conid] = info


def forget(conid: int):
    _conns.pop(conid, None)


def of(msg) -> dict | None:
    if msg.rcv.proto not in (3, 6):  # tls, wss
        return None
    return _conns.get(getattr(msg.rcv, "con_id", 0))


def _field(name):
    def get(msg):
        info = of(msg)
        return info.get(name) if info else None
    get.__doc__ = f"$tls_{name}: from the TLS handshake of the message's connection"
    return get


def _verified(msg):
    """$tls_peer_verified: 1 when the peer's certificate was verified, else 0."""
    info = of(msg)
    return 1 if info and info.get("verified") else 0


def _description(msg):
    """$tls_description: "<version> <cipher>" of the connection."""
    info = of(msg)
    if not info:
        return None
    return f"{info.get('version')} {info.get('cipher')}"


PV_TABLE = [
    ("tls_version", "TlsVersionPv", _field("version")),
    ("tls_description", "TlsDescriptionPv", _description),
    ("tls_cipher_info", "TlsCipherInfoPv", _field("cipher")),
    ("tls_cipher_bits", "TlsCipherBitsPv", _field("bits")),
    ("tls_peer_verified", "TlsPeerVerifiedPv", _verified),
    ("tls_peer_subject", "TlsPeerSubjectPv", _field("peer_subject")),
    ("tls_peer_issuer", "TlsPeerIssuerPv", _field("peer_issuer")),
    ("tls_peer_subject_cn", "TlsPeerSubjectCnPv", _field("peer_subject_cn")),
    ("tls_peer_issuer_cn", "TlsPeerIssuerCnPv", _field("peer_issuer_cn")),
    ("tls_peer_serial", "TlsPeerSerialPv", _field("peer_serial")),
    ("tls_peer_san_dns", "TlsPeerSanDnsPv", _field("peer_san_dns")),
    ("tls_peer_san_hostname", "TlsPeerSanHostnamePv", _field("peer_san_dns")),
    ("tls_peer_san_uri", "TlsPeerSanUriPv", _field("peer_san_uri")),
    ("tls_peer_san_email", "TlsPeerSanEmailPv", _field("peer_san_email")),
    ("tls_peer_san_ip", "TlsPeerSanIpPv", _field("peer_san_ip")),
]
