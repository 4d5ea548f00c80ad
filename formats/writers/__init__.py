"""Image writers (used by ``friedel simulate``): NXmx / Eiger-style HDF5 master and data files."""
