"""HAN Port: read the HAN port of Nordic smart electricity meters."""
