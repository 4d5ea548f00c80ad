"""Bravais lattice choice after triclinic indexing (``friedel refine_bravais_settings``) and
reindexing between settings (``friedel reindex``)."""
