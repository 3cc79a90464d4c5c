import time

import click

from ..context import RpcFault
from ..main import pass_ctl

# what kamctl's monitor shows, as stats.fetch selectors
SECTIONS = [
    ("Transaction Statistics", ["UAS_transactions", "UAC_transactions", "active_transactions",
                                "inuse_transactions"]),
    ("Stateless Server Statistics", ["sent_replies", "sent_err_replies"]),
    ("UsrLoc Statistics", ["usrloc:"]),
    ("Core Statistics", ["rcv_requests", "fwd_requests", "rcv_replies", "fwd_replies"]),
    ("Shared Memory Statistics", ["shmem:"]),
]


def summary(ctl, cycle: int) -> str:
    lines = [f"[cycle #: {cycle}; if constant make sure server lives]", "kamapy Runtime Details:",
             f"  {ctl.rpc('core.version')}"]
    up = ctl.rpc("core.uptime")
    lines += [f"  now: {up['now']}", f"  up_since: {up['up_since']}", f"  uptime: {up['uptime']}", ""]
    for title, selectors in SECTIONS:
        try:
            values = ctl.rpc("stats.fetch", *selectors)
        except RpcFault:
            values = {}
        lines.append(f"{title}:")
        lines += [f"  {k} = {v}" for k, v in values.items()] or ["  (none)"]
        lines.append("")
    return "\n".join(lines)


@click.command("monitor", short_help="A refreshing summary (version, uptime, statistics).")
@click.option("-n", "--count", type=click.IntRange(min=1), default=None,
              help="Stop after this many refreshes (default: until Ctrl-C).")
@click.option("-i", "--interval", type=float, default=2.0, show_default=True, help="Seconds between refreshes.")
@pass_ctl
def cli(ctl, count, interval):
    """Redraw the server's state every INTERVAL seconds, like kamctl monitor."""
    cycle = 0
    try:
        while count is None or cycle < count:
            cycle += 1
            text = summary(ctl, cycle)
            if count != 1:
                click.clear()
            click.echo(text)
            if count is None or cycle < count:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("monitor stopped")
