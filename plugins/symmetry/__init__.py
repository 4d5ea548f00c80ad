"""The symmetry step (see docs/)."""
