"""``python -m friedel.cli`` runs the friedel command line."""

from friedel.cli.main import console_main

console_main()
