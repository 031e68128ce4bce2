"""``python -m boltproxy`` is the ``boltproxy`` command."""

from boltproxy.cli import main

main()
