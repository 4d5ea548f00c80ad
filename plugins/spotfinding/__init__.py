"""Spot finding: threshold algorithms, 3D connected components, spot filters, find_spots command."""
