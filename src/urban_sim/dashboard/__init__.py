"""Browser dashboard (solara): what-if runs of the model with sliders; see :mod:`urban_sim.dashboard.app`."""
