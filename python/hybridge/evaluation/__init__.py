"""Offline evaluation of exported models on ClimSim-format files (``hybridge evaluate``).

:func:`~hybridge.evaluation.scoring.evaluate` scores one model, or several (an ensemble:
the mean is scored and the CRPS added), on held-out time steps by default, with the skill
definition of :mod:`hybridge.skill`; :mod:`~hybridge.evaluation.reports` writes the CSV,
Markdown and netCDF results, :mod:`~hybridge.evaluation.figures` the PNG figures.
"""

from .scoring import Evaluation, evaluate, select_steps

__all__ = ["Evaluation", "evaluate", "select_steps"]
