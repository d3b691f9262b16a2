"""Estimating devices you do not own: FLOPs and bytes of a model, roofline time, energy, GWP.

- :mod:`~inferlca.estimate.models`: model facts (presets with sources, Hugging Face config.json).
- :mod:`~inferlca.estimate.flops`: FLOPs and bytes per query, ``thesis`` and ``faithful`` methods.
- :mod:`~inferlca.estimate.roofline`: a device's roof, where a pass sits under it, time bound.
- :mod:`~inferlca.estimate.power`: the ``tdp`` and ``utilisation`` power models.
- :mod:`~inferlca.estimate.estimator`: one device, from FLOPs to time, energy and GWP.
- :mod:`~inferlca.estimate.calibration`: measured / estimated ratios and a fitted efficiency.
- :mod:`~inferlca.estimate.api`: ``estimate(...)`` over several devices and ``save_estimates``.

Nothing heavy is imported here; import the submodule you need.
"""
