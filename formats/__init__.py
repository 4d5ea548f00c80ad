"""Image format readers (``friedel.formats``)."""
