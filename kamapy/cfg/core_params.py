"""Kamailio's core parameters (debug, children, listen ...): names, value types, defaults.

The table follows cfg.lex/cfg.y: each parameter's accepted value shape is its type,
and aliases are the other spellings Kamailio's lexer accepts. apply_core_params()
turns the parsed `name = value` statements into a CoreParams object (attribute
access, canonical names); an unknown name or a value of the wrong type is a
ConfigError naming where it was written.

Value types:
  int          a number (yes/no/on/off/true/false count as 1/0, as in Kamailio)
  str          a quoted string
  name         a string or a bare word (user = kamailio, log_facility = LOG_LOCAL0)
  int_or_name  a number or a bare word (tos = IPTOS_LOWDELAY)
  int_or_str   a number or a string
  host         an address or host name (advertised_address = 1.2.3.4)
  ip           an IP address
  proto        udp / tcp / tls / sctp
  socklist     listen / alias / domain: [proto:]host[:port] entries, appended to
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, Problem


@dataclass(frozen=True)
class CoreParam:
    name: str
    type: str
    default: Any
    aliases: tuple[str, ...] = ()


P = CoreParam

CORE_PARAMS: tuple[CoreParam, ...] = (
    P('advertised_address', 'host', None),
    P('advertised_port', 'int', 0),
    P('alias', 'socklist', []),
    P('async_nonblock', 'int', None),
    P('async_tkv_evcb', 'str', None),
    P('async_tkv_gname', 'str', None),
    P('async_usleep', 'int', None),
    P('async_workers', 'int', 0),
    P('async_workers_group', 'str', None),
    P('auto_aliases', 'int', 1),
    P('auto_bind_ipv6', 'int', None),
    P('auto_domains', 'int', 0),
    P('bind_ipv6_link_local', 'int', None),
    P('check_via', 'int', 0),
    P('children', 'int', 8),
    P('chroot', 'name', None),
    P('corelog', 'int', -1, aliases=('core_log',)),
    P('debug', 'int', 0),
    P('disable_core_dump', 'int', None),
    P('disable_sctp', 'int', 0),
    P('disable_tcp', 'int', 0),
    P('disable_tls', 'int', 0, aliases=('tls_disable',)),
    P('dns', 'int', 0),
    P('dns_cache_del_nonexp', 'int', None, aliases=('dns_cache_delete_nonexpired',)),
    P('dns_cache_flags', 'int', None),
    P('dns_cache_gc_interval', 'int', None),
    P('dns_cache_init', 'int', 1),
    P('dns_cache_max_ttl', 'int', None),
    P('dns_cache_mem', 'int', None),
    P('dns_cache_min_ttl', 'int', None),
    P('dns_cache_negative_ttl', 'int', None),
    P('dns_cache_rec_pref', 'int', None),
    P('dns_naptr_ignore_rfc', 'int', None),
    P('dns_retr_no', 'int', -1),
    P('dns_retr_time', 'int', -1),
    P('dns_sctp_pref', 'int', None, aliases=('dns_sctp_preference',)),
    P('dns_search_full_match', 'int', 1),
    P('dns_servers_no', 'int', -1),
    P('dns_slow_query_ms', 'int', None),
    P('dns_srv_lb', 'int', None, aliases=('dns_srv_loadbalancing',)),
    P('dns_tcp_pref', 'int', None, aliases=('dns_tcp_preference',)),
    P('dns_tls_pref', 'int', None, aliases=('dns_tls_preference',)),
    P('dns_try_ipv6', 'int', 0),
    P('dns_try_naptr', 'int', 0),
    P('dns_udp_pref', 'int', None, aliases=('dns_udp_preference',)),
    P('dns_use_search_list', 'int', 1),
    P('domain', 'socklist', []),
    P('dst_blocklist_expire', 'int', None, aliases=('dst_blocklist_ttl',)),
    P('dst_blocklist_gc_interval', 'int', None),
    P('dst_blocklist_init', 'int', 1),
    P('dst_blocklist_mem', 'int', None),
    P('dst_blocklist_sctp_imask', 'int', None),
    P('dst_blocklist_tcp_imask', 'int', None),
    P('dst_blocklist_tls_imask', 'int', None),
    P('dst_blocklist_udp_imask', 'int', None),
    P('enable_sctp', 'int', 0),
    P('enable_tls', 'int', 0, aliases=('tls_enable',)),
    P('event_route_callback', 'str', None),
    P('exit_timeout', 'int', 60, aliases=('ser_kill_timeout',)),
    P('force_rport', 'int', 0, aliases=('add_rport',)),
    P('fork', 'int', 1),
    P('fork_delay', 'int', None),
    P('group', 'name', None, aliases=('gid',)),
    P('hdr_name_extra_chars', 'str', None),
    P('http_reply_hack', 'int', None, aliases=('http_reply_parse',)),
    P('ip_free_bind', 'int', None, aliases=('ipfreebind', 'ip_nonlocal_bind')),
    P('ipv6_hex_style', 'str', None),
    P('latency_cfg_log', 'int', 0),
    P('latency_limit_action', 'int', 0),
    P('latency_limit_cfg', 'int', None),
    P('latency_limit_db', 'int', 0),
    P('latency_log', 'int', -1),
    P('listen', 'socklist', []),
    P('local_rport', 'int', 0),
    P('log_color', 'int', 0),
    P('log_engine_data', 'str', None),
    P('log_engine_type', 'str', None),
    P('log_facility', 'name', 'LOG_DAEMON'),
    P('log_name', 'str', None),
    P('log_prefix', 'str', None),
    P('log_prefix_mode', 'int', None),
    P('log_stderror', 'int', 0),
    P('max_branches', 'int', 12),
    P('max_recursive_level', 'int', 256),
    P('max_while_loops', 'int', 100),
    P('maxbuffer', 'int', 262144),
    P('maxsndbuffer', 'int', None),
    P('mcast', 'name', None),
    P('mcast_loopback', 'int', 0),
    P('mcast_ttl', 'int', -1),
    P('mem_add_size', 'int', None),
    P('mem_join', 'int', None),
    P('mem_safety', 'int', None),
    P('mem_status_mode', 'int', None),
    P('mem_summary', 'int', 0),
    P('memdbg', 'int', 3, aliases=('mem_dbg',)),
    P('memlog', 'int', 3, aliases=('mem_log',)),
    P('mhomed', 'int', 0),
    P('mlock_pages', 'int', None),
    P('modinit_delay', 'int', None),
    P('msg_apply_changes_mode', 'int', None),
    P('msg_clone_extra_size', 'int', None),
    P('msg_recv_max_size', 'int', None),
    P('msg_time', 'int', 0),
    P('onsend_route_callback', 'str', None),
    P('onsend_route_reply', 'int', 0),
    P('open_files_limit', 'int', 0),
    P('phone2tel', 'int', 1),
    P('pmtu_discovery', 'int', 0),
    P('port', 'int', 5060),
    P('pre_routing_callback', 'str', None),
    P('pv_buffer_size', 'int', 8192),
    P('pv_buffer_slots', 'int', 10),
    P('pv_cache_action', 'int', None),
    P('pv_cache_limit', 'int', None),
    P('real_time', 'int', 0),
    P('received_route_callback', 'str', None),
    P('received_route_mode', 'int', None),
    P('reply_route_callback', 'str', None),
    P('reply_to_via', 'int', 0),
    P('request_route_callback', 'str', None),
    P('return_mode', 'int', 0),
    P('rev_dns', 'int', 0, aliases=('dns_rev_via',)),
    P('route_locks_size', 'int', None),
    P('rpc_exec_delta', 'int', None),
    P('rpc_exec_locks', 'int', None),
    P('rpc_exec_locks_mode', 'int', None),
    P('rt_policy', 'int', None),
    P('rt_prio', 'int', None),
    P('rt_timer1_policy', 'int', None, aliases=('rt_ftimer_policy',)),
    P('rt_timer1_prio', 'int', None, aliases=('rt_fast_timer_prio', 'rt_ftimer_prio')),
    P('rt_timer2_policy', 'int', None, aliases=('rt_stimer_policy',)),
    P('rt_timer2_prio', 'int', None, aliases=('rt_stimer_prio',)),
    P('rundir', 'name', None, aliases=('run_dir',)),
    P('sctp_children', 'int', None),
    P('server_header', 'str', None),
    P('server_id', 'int', 0),
    P('server_signature', 'int', 1),
    P('shm', 'int', 0, aliases=('shm_mem', 'shm_mem_size')),
    P('shm_force_alloc', 'int', None),
    P('sip_parser_log', 'int', 0),
    P('sip_parser_log_oneline', 'int', 0),
    P('sip_parser_mode', 'int', None),
    P('sip_warning', 'int', 0),
    P('socket_workers', 'int', None),
    P('sql_buffer_size', 'int', 65535),
    P('stats_name_separator', 'str', '_'),
    P('tcp_accept_aliases', 'int', 0),
    P('tcp_accept_haproxy', 'int', None),
    P('tcp_accept_hep3', 'int', None),
    P('tcp_accept_iplimit', 'int', None),
    P('tcp_accept_no_cl', 'int', None),
    P('tcp_accept_protocols', 'int_or_str', None, aliases=('tcp_accept_protos',)),
    P('tcp_accept_unique', 'int', None),
    P('tcp_buf_write', 'int', None, aliases=('tcp_async',)),
    P('tcp_check_timer', 'int', None),
    P('tcp_children', 'int', 0),
    P('tcp_clone_rcvbuf', 'int', None),
    P('tcp_close_rst', 'int', None),
    P('tcp_conn_wq_max', 'int', None),
    P('tcp_connect_timeout', 'int', 10),
    P('tcp_connection_lifetime', 'int', 120),
    P('tcp_connection_match', 'int', None),
    P('tcp_crlf_ping', 'int', 1),
    P('tcp_defer_accept', 'int', None),
    P('tcp_delayed_ack', 'int', None),
    P('tcp_fd_cache', 'int', None),
    P('tcp_keepalive', 'int', 1),
    P('tcp_keepcnt', 'int', None),
    P('tcp_keepidle', 'int', None),
    P('tcp_keepintvl', 'int', None),
    P('tcp_linger2', 'int', None),
    P('tcp_listen_backlog', 'int', None),
    P('tcp_main_threads', 'int', None),
    P('tcp_max_connections', 'int', 2048),
    P('tcp_msg_data_timeout', 'int', None),
    P('tcp_msg_read_timeout', 'int', None),
    P('tcp_no_connect', 'int', None),
    P('tcp_poll_method', 'name', None),
    P('tcp_rd_buf_size', 'int', 16384),
    P('tcp_reuse_port', 'int', None),
    P('tcp_script_mode', 'int', None),
    P('tcp_send_timeout', 'int', 10),
    P('tcp_source_ipv4', 'ip', None),
    P('tcp_source_ipv6', 'ip', None),
    P('tcp_syncnt', 'int', None),
    P('tcp_wait_data', 'int', None),
    P('tcp_wq_blk_size', 'int', None),
    P('tcp_wq_max', 'int', None),
    P('tls_ca_list', 'str', None),
    P('tls_certificate', 'str', None),
    P('tls_connection_match_domain', 'int', None),
    P('tls_handshake_timeout', 'int', 120),
    P('tls_max_connections', 'int', 2048),
    P('tls_method', 'name', None),
    P('tls_port_no', 'int', 5061),
    P('tls_private_key', 'str', None),
    P('tls_require_certificate', 'int', 0),
    P('tls_send_timeout', 'int', 120),
    P('tls_threads_mode', 'int', None),
    P('tls_verify', 'int', 0),
    P('tlslog', 'int', None, aliases=('tls_log',)),
    P('tos', 'int_or_name', 16),
    P('udp4_raw', 'int', None),
    P('udp4_raw_mtu', 'int', None),
    P('udp4_raw_ttl', 'int', None),
    P('udp_accept_proxy', 'int', None),
    P('udp_mtu', 'int', 0),
    P('udp_mtu_try_proto', 'proto', None),
    P('udp_receiver_mode', 'int', None),
    P('uri_host_extra_chars', 'str', None),
    P('use_dns_cache', 'int', 1, aliases=('dns_use_cache',)),
    P('use_dns_failover', 'int', 0, aliases=('dns_use_failover',)),
    P('use_dst_blocklist', 'int', 0),
    P('user', 'name', None, aliases=('uid',)),
    P('user_agent_header', 'str', None),
    P('verbose_startup', 'int', None),
    P('version_table', 'str', None),
    P('wait_worker1_mode', 'int', None),
    P('wait_worker1_time', 'int', None),
    P('wait_worker1_usleep', 'int', None),
    P('workdir', 'name', None, aliases=('wdir',)),
    P('xavp_via_fields', 'str', None),
    P('xavp_via_params', 'str', None),
    P('xavp_via_reply_params', 'str', None),
)

PARAMS_BY_NAME: dict[str, CoreParam] = {}
for _p in CORE_PARAMS:
    PARAMS_BY_NAME[_p.name] = _p
    for _a in _p.aliases:
        PARAMS_BY_NAME[_a] = _p
CORE_PARAM_NAMES = frozenset(PARAMS_BY_NAME)


@dataclass
class CoreParams:
    """The core settings a config made; every known parameter has its default."""

    values: dict[str, Any] = field(default_factory=dict)
    positions: dict[str, Any] = field(default_factory=dict)  # name -> Position of the last setting

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            p = PARAMS_BY_NAME.get(name)
            if p is not None:
                # an alias, or a known parameter a hand-made CoreParams left out: its default
                return self.__dict__["values"].get(p.name, p.default)
            raise AttributeError(f"no core parameter {name!r}") from None

    def __setattr__(self, name, value):
        if name in ("values", "positions"):
            object.__setattr__(self, name, value)
        else:
            p = PARAMS_BY_NAME.get(name)
            self.values[p.name if p else name] = value


def _defaults() -> dict[str, Any]:
    return {p.name: (list(p.default) if isinstance(p.default, list) else p.default) for p in CORE_PARAMS}


def _convert(param: CoreParam, value):
    """Check a parsed value (an ast value node) against the param type; returns the Python value."""
    kind, v = value.kind, value.value
    t = param.type
    if t == "int":
        if kind == "int":
            return v
        raise ValueError("a number is expected")
    if t == "str":
        if kind == "str":
            return v
        raise ValueError("a quoted string is expected")
    if t == "name":
        if kind in ("str", "id", "proto"):
            return v
        raise ValueError("a name or a quoted string is expected")
    if t == "int_or_name":
        if kind in ("int", "id", "str"):
            return v
        raise ValueError("a number or a name is expected")
    if t == "int_or_str":
        if kind in ("int", "str"):
            return v
        raise ValueError("a number or a quoted string is expected")
    if t in ("host", "ip"):
        if kind in ("str", "id", "ip", "host"):
            return v
        raise ValueError("an address is expected")
    if t == "proto":
        if kind in ("proto", "id") and str(v).lower() in ("udp", "tcp", "tls", "sctp"):
            return str(v).lower()
        raise ValueError("udp, tcp, tls or sctp is expected")
    raise ValueError(f"unsupported parameter type {t}")


def apply_core_params(ast, sources=None) -> CoreParams:
    """CoreParams from a ConfigAst's core_params (kamapy.cfg.ast.CoreParamStmt) statements."""
    from .ast import ListenStmt

    params = CoreParams(values=_defaults())
    problems = []
    for stmt in ast.core_params:
        if isinstance(stmt, ListenStmt):
            p = PARAMS_BY_NAME[stmt.name]
            params.values[p.name].extend(stmt.specs)
            params.positions[p.name] = stmt.pos
            continue
        p = PARAMS_BY_NAME.get(stmt.name)
        if p is None:
            problems.append(_problem(sources, stmt.pos, f"unknown core parameter '{stmt.name}'",
                                     _did_you_mean(stmt.name)))
            continue
        try:
            params.values[p.name] = _convert(p, stmt.value)
            params.positions[p.name] = stmt.pos
        except ValueError as e:
            problems.append(_problem(sources, stmt.value.pos or stmt.pos, f"core parameter '{stmt.name}': {e}"))
    if problems:
        raise ConfigError(problems)
    if not params.values.get("tcp_children"):
        params.values["tcp_children"] = params.values["children"]
    return params


def _problem(sources, pos, message, hint=""):
    if sources is not None:
        return sources.problem(pos, message, hint)
    return Problem(pos, message, hint)


def _did_you_mean(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(PARAMS_BY_NAME), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "module parameters are set with modparam(\"module\", \"name\", value)"
