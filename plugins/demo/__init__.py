"""``friedel demo``: simulate a small sweep and run every available processing step on it."""
