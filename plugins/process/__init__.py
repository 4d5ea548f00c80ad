"""The process step (see docs/)."""
