"""auth_db: digest authentication against the subscriber table (Kamailio 5.6's auth_db).

www_authorize(realm, table) / www_authenticate(realm, table[, method]),
proxy_authorize / proxy_authenticate(realm, table), auth_check(realm, table, flags),
is_subscriber(uri, table, flags) over kamapy.db (SQLite or PostgreSQL) with Kamailio's
table layout (username, domain, password, ha1, ha1b), so a table kamdbctl / kamctl made
works as it is, and one kamapyctl wrote works in Kamailio.

The row is found by the credentials' user (and, with use_domain, by the username's
domain or else the realm). With calculate_ha1 the password column holds the plain
password and HA1 is computed from the whole username and the realm; otherwise the
column holds HA1 itself: password_column ("ha1") for a plain username,
password_column_2 ("ha1b", HA1 over "user@domain") when the username carries a domain.
Return codes: those of the auth module (1, -1 ... -8).
"""

from __future__ import annotations

import logging
import os

from kamapy import db
from kamapy.db.schema import check_table_version
from kamapy.module import ANY_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.sip.methods import METHOD_ACK, METHOD_CANCEL, METHOD_REGISTER
from kamapy.sip.uri import parse_uri

log = logging.getLogger("kamapy.auth_db")

DEFAULT_DB_URL = "sqlite:///var/lib/kamapy/kamapy.sqlite"
AUTH_DB_SUBS_USE_DOMAIN = 1
AUTH_DB_SUBS_SKIP_CREDENTIALS = 2

_conn = None
_credentials: list = []   # [(column, writable PV)], in Kamailio's (reversed) order


def _auth():
    from kamapy_modules import auth
    return auth


def _p(name):
    return exports.param(name)


def connection():
    """This process's connection (opened on first use, never across fork)."""
    global _conn
    if _conn is not None and _conn.pid != os.getpid():
        _conn = None
    if _conn is None:
        _conn = db.connect(_p("db_url"))
    return _conn


def close():
    global _conn
    if _conn is not None:
        try:
            if _conn.pid == os.getpid():
                _conn.close()
        except Exception:
            pass
        _conn = None


def _query(table, columns, where):
    try:
        return connection().query(table, columns, where)
    except Exception as e:  # DbError, a lost server ...: Kamailio's "failed to query database"
        log.error("failed to query database: %s", e)
        close()
        return None


def _set_pvs(msg, values):
    for (_col, pv), value in zip(_credentials, values, strict=False):
        if value is None:
            continue
        try:
            pv.set(msg, value)
        except Exception as e:
            log.error("failed to convert value for column %s: %s", _col, e)
            return -1
    return 0


def get_ha1(cred, realm: str, table: str):
    """(rc, ha1, extra values): rc 0 found, 1 no such user, -1 database error."""
    calc = bool(_p("calculate_ha1"))
    col = _p("password_column_2") if cred.domain and not calc else _p("password_column")
    where = {_p("user_column"): cred.user}
    if _p("use_domain"):
        where[_p("domain_column")] = cred.domain if cred.domain else realm
    rows = _query(table, [col] + [c for c, _ in _credentials], where)
    if rows is None:
        return -1, None, None
    if not rows:
        return 1, None, None
    secret = rows[0][0] if rows[0][0] is not None else ""
    secret = str(secret)
    h = _auth().ha1(cred.username, realm, secret) if calc else secret
    return 0, h, rows[0][1:]


def digest_authenticate(msg, realm: str, table: str, hftype: str, method: str):
    """(rc, credentials used or None)."""
    auth = _auth()
    outcome, cred, srealm = auth.pre_auth(msg, realm, hftype)
    if outcome != auth.DO_AUTHENTICATION:
        return auth.PRE_AUTH_RC[outcome], None
    rc, h, extra = get_ha1(cred, srealm, table)
    if rc < 0:
        return auth.AUTH_ERROR, cred
    if rc > 0:
        return auth.AUTH_USER_UNKNOWN, cred
    force = bool(_p("force_generate_avps"))
    if force:
        _set_pvs(msg, extra)
    r = auth.check_response(cred, method, h, msg)
    if r == auth.AUTHENTICATED:
        if auth.post_auth(msg, cred, h) != auth.AUTHENTICATED:
            return auth.AUTH_ERROR, cred
        if not force:
            _set_pvs(msg, extra)
        return auth.AUTH_OK, cred
    return (auth.AUTH_INVALID_PASSWORD if r == auth.NOT_AUTHENTICATED else auth.AUTH_ERROR), cred


def _realm_ok(realm) -> bool:
    if not realm:
        log.error("invalid realm parameter - empty value")
        return False
    return True


def _v(msg, value):
    return _auth().arg_value(msg, value)


def www_authenticate(msg, realm, table, method=None) -> int:
    realm, method = _v(msg, realm), _v(msg, method)
    if not _realm_ok(realm):
        return -1
    if method is not None and not method:
        log.error("invalid method parameter - empty value")
        return -1
    from kamapy_modules.auth.creds import AUTHORIZATION
    return digest_authenticate(msg, realm, table, AUTHORIZATION, method or msg.method)[0]


def proxy_authenticate(msg, realm, table) -> int:
    realm = _v(msg, realm)
    if not _realm_ok(realm):
        return -1
    from kamapy_modules.auth.creds import PROXY_AUTHORIZATION
    return digest_authenticate(msg, realm, table, PROXY_AUTHORIZATION, msg.method)[0]


def auth_check(msg, realm, table, flags) -> int:
    if msg.method_id & (METHOD_ACK | METHOD_CANCEL):
        return 1
    realm, table = _v(msg, realm), _v(msg, table)
    if not realm:
        log.error("invalid realm parameter - empty value")
        return -1
    if not table:
        log.error("invalid table parameter - empty value")
        return -1
    if flags is None:
        log.error("invalid flags parameter")
        return -1
    from kamapy_modules.auth.creds import AUTHORIZATION, PROXY_AUTHORIZATION
    hftype = AUTHORIZATION if msg.method_id == METHOD_REGISTER else PROXY_AUTHORIZATION
    rc, cred = digest_authenticate(msg, realm, table, hftype, msg.method)
    auth = _auth()
    if rc == auth.AUTH_OK and cred is not None and flags & auth.AUTH_CHECK_ID_F:
        return auth.check_identity(msg, cred, bool(_p("use_domain")),
                                   bool(flags & auth.AUTH_CHECK_SKIPFWD_F))
    return rc


def is_subscriber(msg, uri, table, flags) -> int:
    uri, table = _v(msg, uri), _v(msg, table)
    if not uri:
        log.error("invalid uri parameter - empty value")
        return -1
    try:
        puri = parse_uri(uri)
    except Exception:
        log.error("invalid uri parameter format")
        return -1
    if not table:
        log.error("invalid table parameter - empty value")
        return -1
    flags = flags or 0
    where = {_p("user_column"): puri.user or ""}
    if flags & AUTH_DB_SUBS_USE_DOMAIN and puri.host:
        where[_p("domain_column")] = puri.host
    cols = [_p("user_column")] if flags & AUTH_DB_SUBS_SKIP_CREDENTIALS else [c for c, _ in _credentials]
    rows = _query(table, cols or [_p("user_column")], where)
    if rows is None:
        return -1
    if not rows:
        return -2
    if not flags & AUTH_DB_SUBS_SKIP_CREDENTIALS and _credentials:
        if _set_pvs(msg, rows[0]) < 0:
            return -3
    return 1


# ------------------------------------------------------------------ set-up


def _check_table(name: str) -> str:
    """Load-time check of a static table name, as Kamailio's auth_fixup does."""
    if not name:
        raise ValueError("empty parameter not allowed")
    if not _p("version_table"):
        return name
    url = db.parse_db_url(_p("db_url"))
    if url.driver == "sqlite" and not os.path.exists(url.database):
        # checking a config must not create an empty database file; the queries will
        # fail (-1, logged) until the file exists
        log.warning("auth_db: database %s does not exist (yet): table %r not checked; "
                    "create it with `kamapyctl db create`", url.text, name)
        return name
    try:
        conn = db.connect(url)
    except Exception as e:
        raise ValueError(f"unable to open database connection ({url.text}): {e}") from None
    try:
        if conn.table_exists(name):
            problem = check_table_version(conn, name)
            if problem:
                raise ValueError(f"{problem} (kamdbctl / kamapyctl db create make the right one)")
    finally:
        conn.close()
    return name


def parse_credentials_list(text: str) -> list:
    """load_credentials: "col;$avp(x)=col2;..." -> [(column, PV)], reversed as Kamailio
    links them. A bare column loads into $avp(column)."""
    from kamapy.pv import parse_pv
    out = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        sep = part.rfind("=")
        if sep > 0:
            col, pv = part[sep + 1:].strip(), part[:sep].strip()
        else:
            col, pv = part.strip(), f"$avp({part.strip()})"
        if not col or not pv:
            raise ValueError(f"parse failed in {text!r}")
        spec = parse_pv(pv)
        if not getattr(spec, "writable", True) or not hasattr(spec, "set"):
            raise ValueError(f"PV is not writeable: {pv}")
        out.insert(0, (col, spec))
    return out


def _check():
    errors = []
    from kamapy import loader
    if not loader.loaded("auth"):
        errors.append((None, "auth_db needs the auth module: add loadmodule \"auth\""))
    try:
        db.parse_db_url(_p("db_url"))
    except Exception as e:
        errors.append(("db_url", str(e)))
    try:
        parse_credentials_list(_p("load_credentials"))
    except Exception as e:
        errors.append(("load_credentials", f"failed to parse credentials: {e}"))
    return errors


def mod_init():
    from kamapy import loader
    if not loader.loaded("auth"):
        log.error("unable to find bind_auth function. Check if you load the auth module.")
        return -2
    global _credentials
    try:
        _credentials = parse_credentials_list(_p("load_credentials"))
    except Exception as e:
        log.error("failed to parse credentials: %s", e)
        return -5
    close()
    return 0


def child_init(rank: int):
    close()  # never reuse the master's connection; the first query opens ours
    return 0


def destroy():
    close()


_TABLE = Arg("str", fixup=_check_table)


def _var_str(text):
    from kamapy_modules.auth import var_str
    return var_str(text)


VAR_STR = Arg("raw", fixup=_var_str)

exports = ModuleExports(
    name="auth_db",
    params=[
        Param("db_url", str, DEFAULT_DB_URL),
        Param("user_column", str, "username"),
        Param("domain_column", str, "domain"),
        Param("password_column", str, "ha1"),
        Param("password_column_2", str, "ha1b"),
        Param("calculate_ha1", int, 0),
        Param("use_domain", int, 0),
        Param("load_credentials", str, ""),
        Param("version_table", int, 1),
        Param("force_generate_avps", int, 0),
    ],
    functions=[
        Function("www_authorize", www_authenticate, (VAR_STR, _TABLE), REQUEST_ROUTE),
        Function("www_authenticate", www_authenticate,
                 (VAR_STR, _TABLE, Arg("raw", fixup=_var_str, optional=True)), REQUEST_ROUTE),
        Function("proxy_authorize", proxy_authenticate, (VAR_STR, _TABLE), REQUEST_ROUTE),
        Function("proxy_authenticate", proxy_authenticate, (VAR_STR, _TABLE), REQUEST_ROUTE),
        Function("auth_check", auth_check, (VAR_STR, VAR_STR, Arg("igp")), REQUEST_ROUTE),
        Function("is_subscriber", is_subscriber, (VAR_STR, VAR_STR, Arg("igp")), ANY_ROUTE),
    ],
    mod_init=mod_init,
    child_init=child_init,
    destroy=destroy,
    check=_check,
)
