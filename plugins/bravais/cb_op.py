"""Change of basis between lattice settings: the kernel's :class:`friedel.lattice.ChangeOfBasis`.

Written as the new basis vectors in terms of the old ones (``b+c,a+c,a+b``); the matrix ``P``
has the new vectors in old coordinates as columns, so that a direct basis (rows) becomes
``P^T D``, the reciprocal matrix ``A P^-T`` and Miller indices (rows) ``h P``. Kept importable
here for the modules and plugins that import it from this place.
"""

from friedel.lattice import ChangeOfBasis  # noqa: F401
