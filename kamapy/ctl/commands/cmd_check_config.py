import subprocess
import sys

import click


@click.command("check-config", short_help="Check a config file (kamapy -c).")
@click.argument("cfg_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--syntax-only", is_flag=True, help="Preprocessor and grammar only, no module loading.")
@click.option("-L", "module_paths", multiple=True, metavar="DIR", help="Extra module folder (repeatable).")
def cli(cfg_file, syntax_only, module_paths):
    """Run `kamapy -c -f FILE`: prints `config file ok` or the errors; the exit code is
    kamapy's."""
    cmd = [sys.executable, "-m", "kamapy", "-c", "-f", cfg_file]
    if syntax_only:
        cmd.append("--syntax-only")
    for folder in module_paths:
        cmd += ["-L", folder]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise click.ClickException("kamapy -c did not finish within 120s") from None
    for stream, text in ((sys.stdout, done.stdout), (sys.stderr, done.stderr)):
        if text:
            stream.write(text)
    sys.exit(done.returncode)
