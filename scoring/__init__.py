"""Indicator frameworks and the scorer: stored findings (and auditors' inputs) → indicator values.

Frameworks are data (``config/frameworks/*.yaml``, :mod:`scoring.schema`, validated by
:mod:`scoring.framework`); the core (:mod:`scoring.engine`, :mod:`scoring.methods`) is pure;
:mod:`scoring.store` is the thin database layer and :mod:`scoring.api` what callers use.
"""
