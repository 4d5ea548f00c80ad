"""The ``friedel`` command line."""
