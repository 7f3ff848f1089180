"""Excitability of SRC-family neurons: f-I curves, hysteresis, classes, figures."""
