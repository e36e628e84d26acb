"""``python -m hegui`` runs the console script."""

from hegui.cli import main

main()
