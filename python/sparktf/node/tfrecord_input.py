"""Alias: ``sparktf.node.tfrecord_input`` is the module ``sparktf.program.tfrecord_input``.

What a user's program imports lives in ``sparktf/program/``; this name stays so programs
written against it keep working. Both names are one module object (patches and isinstance agree).
"""

import sys

from sparktf.program import tfrecord_input as _module

sys.modules[__name__] = _module
