"""A meter simulator: realistic HAN telegram streams without a meter."""
