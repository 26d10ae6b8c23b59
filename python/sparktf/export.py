"""Alias: ``sparktf.export`` is the module ``sparktf.program.export``.

What a user's program imports lives in ``sparktf/program/``; this name stays so programs
written against it keep working. Both names are one module object (patches and isinstance agree).
"""

import sys

from sparktf.program import export as _module

sys.modules[__name__] = _module
