"""inferlca: what AI inference costs the planet, measured on your hardware or estimated.

The public API is re-exported here as the layers land; see README.md.
"""

from inferlca.errors import InferlcaError
from inferlca.spec import RunSpec
from inferlca.uncertainty import UValue

__version__ = "0.1.0"

__all__ = ["InferlcaError", "RunSpec", "UValue", "__version__"]
