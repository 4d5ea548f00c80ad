"""The export step (see docs/)."""
