"""Campaigns: a study's whole grid of runs described once, run resumably, locally or with Ray.

- :mod:`~inferlca.campaign.spec`: the YAML campaign file -> cells (RunSpec + stable cell id).
- :mod:`~inferlca.campaign.plan`: estimated duration per cell (store history or roofline).
- :mod:`~inferlca.campaign.local`: the local executor (skips done cells, records failures).
- :mod:`~inferlca.campaign.ray`: the Ray executor (cells placed by device resources).
- :mod:`~inferlca.campaign.state`: each cell's state from the store; the executor lock.
- :mod:`~inferlca.campaign.transfer`: one run copied between stores (worker -> driver).

See ``docs/campaign.md``.
"""
