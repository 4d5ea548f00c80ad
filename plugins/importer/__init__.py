"""``friedel import``: image files -> experiment list (imported.expt)."""
