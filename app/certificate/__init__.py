"""Certificates (结业证书): issued when a session closes, verified by a public code."""
