"""Helpers shared by the browser probes: error classification, TLS verdicts, login and
user-centre discovery, personal-data masking and masked screenshots.

Each helper prefers what a person sees (visible text, roles, forms, network traffic) over markup
details, and every heuristic takes overrides from the check's ``Options``.
"""
