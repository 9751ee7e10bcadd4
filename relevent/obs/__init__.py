"""Observability: logging, metrics, health and audit."""
