"""The database Debian's kamailio.cfg expects under WITH_MYSQL, made as `kamdbctl
create` makes it: Kamailio's own mysql schema files (/usr/share/kamailio/mysql) for the
modules the stock config loads, plus the acc/missed_calls columns the file's WITH_ACCDB
comment asks for; subscribers inserted as `kamctl add` writes them (plain password,
ha1/ha1b, as calculate_ha1=yes reads `password`). Without the Kamailio schema files the
same tables come from kamapy's schema module."""

from __future__ import annotations

import hashlib
from pathlib import Path

KAM_SCHEMA = Path("/usr/share/kamailio/mysql")
GROUPS = ("standard", "acc", "auth_db", "usrloc", "permissions", "alias_db", "speeddial", "domain")
EXTRA_COLS = (("src_user", 64), ("src_domain", 128), ("src_ip", 64), ("dst_ouser", 64),
              ("dst_user", 64), ("dst_domain", 128))
USERS = {"alice": "alicepw", "bob": "bobpw"}
DOMAIN = "127.0.0.1"


def make_db(server, name: str) -> str:
    url = server.create_db(name)
    if (KAM_SCHEMA / "standard-create.sql").exists():
        for g in GROUPS:
            server.load_sql(name, (KAM_SCHEMA / f"{g}-create.sql").read_text())
    else:
        from kamapy.db import schema
        schema.create_tables(url, ["version", "acc", "missed_calls", "subscriber", "location",
                                   "location_attrs", "address", "trusted", "dbaliases", "speed_dial",
                                   "domain", "domain_attrs"])
    alters = [f"ALTER TABLE {t} ADD COLUMN {c} VARCHAR({n}) NOT NULL DEFAULT ''"
              for t in ("acc", "missed_calls") for c, n in EXTRA_COLS]
    for user, pw in USERS.items():
        ha1 = hashlib.md5(f"{user}:{DOMAIN}:{pw}".encode()).hexdigest()
        ha1b = hashlib.md5(f"{user}@{DOMAIN}:{DOMAIN}:{pw}".encode()).hexdigest()
        alters.append("INSERT INTO subscriber (username, domain, password, ha1, ha1b) "
                      f"VALUES ('{user}', '{DOMAIN}', '{pw}', '{ha1}', '{ha1b}')")
    server.load_sql(name, ";\n".join(alters) + ";\n")
    return url


def rows(server, name: str, sql: str) -> list[tuple]:
    c = server.admin(name)
    with c.cursor() as cur:
        cur.execute(sql)
        out = [tuple(r) for r in cur.fetchall()]
    c.close()
    return out
