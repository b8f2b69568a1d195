"""``python -m devstack``: what ``make up`` runs."""

from devstack import main

main()
