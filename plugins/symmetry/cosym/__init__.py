"""cosym (Gildea & Winter 2018): correlation matrix, embedding, analysis."""
