"""Pretrained networks used as frozen front ends (``musicnn``), with their converted weights."""
