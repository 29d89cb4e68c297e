"""``python -m streams`` runs the ``vigil`` command line."""

from streams.cli import main

main(prog_name="vigil")
