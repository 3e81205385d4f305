"""``python -m urban_sim``: the same as the ``urban-sim`` console script."""

from urban_sim.cli import main

main()
