"""Pytest fixtures that start the sandbox on loopback once per test session (owned by the sandbox)."""
