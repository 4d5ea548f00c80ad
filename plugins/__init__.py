"""Built-in algorithm plugins of friedel, one sub-package per processing step."""
