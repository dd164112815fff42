"""`simulate`: the engine `run` uses, replayed one contact at a time over simulated time.

- `replay`: one process (`simulate`) and the result (`Simulation`).
- `parallel`: the contacts split over forked workers (`simulate_parallel`).
"""
