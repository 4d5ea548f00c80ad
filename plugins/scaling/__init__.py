"""The scaling step (see docs/)."""
