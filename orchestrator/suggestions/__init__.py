"""Which needs and offers fit each other, ranked by their texts (French and English)."""
