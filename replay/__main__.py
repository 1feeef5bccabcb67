"""`python -m replay`."""

from replay.cli import app

app(prog_name="python -m replay")
