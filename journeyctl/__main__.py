"""`python -m journeyctl`: the idle-tick fast path first, then the full CLI (fastpath.py)."""

from journeyctl.fastpath import main

main()
