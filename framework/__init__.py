"""friedel: X-ray diffraction data processing as a plugin framework.

The kernel (this package) holds the data model, the reflection table, DIALS-compatible
file I/O, the parameter system, the plugin manager, the CLI and parallel execution.
Algorithms live in :mod:`friedel.plugins`, image formats in :mod:`friedel.formats`.
"""

__version__ = "0.1.0"
