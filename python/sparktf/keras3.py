"""Alias: ``sparktf.keras3`` is the module ``sparktf.program.keras3``.

What a user's program imports lives in ``sparktf/program/``; this name stays so programs
written against it keep working. Both names are one module object (patches and isinstance agree).
"""

import sys

from sparktf.program import keras3 as _module

sys.modules[__name__] = _module
