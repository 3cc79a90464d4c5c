"""`python -m kamapy` is the `kamapy` command."""

from .cli import main

main(prog_name="kamapy")
