"""Cadre training records service."""
