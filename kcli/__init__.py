"""kcli: Kubernetes semantics without a control plane."""

import os

from kcli import _dccache

if not os.environ.get("KCLI_NO_DC_CACHE"):  # set: compile dataclass methods every time, as Python does
    _dccache.install()

__version__ = "0.1.0"
