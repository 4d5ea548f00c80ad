"""Example Facility plugins for friedel: the XFD detector format and a robust global threshold."""
