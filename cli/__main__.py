"""``python -m mbops.cli`` runs the mbops command."""

from mbops.cli.main import main

main()
