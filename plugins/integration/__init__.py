"""The integration step (see docs/)."""
