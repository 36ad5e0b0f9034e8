"""`python -m core`: the neural-style command line (see core.cli)."""

from core.cli import command

command()
