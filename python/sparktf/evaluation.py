"""Alias: ``sparktf.evaluation`` is the module ``sparktf.program.evaluation``.

What a user's program imports lives in ``sparktf/program/``; this name stays so programs
written against it keep working. Both names are one module object (patches and isinstance agree).
"""

import sys

from sparktf.program import evaluation as _module

sys.modules[__name__] = _module
