"""Storage: SQLAlchemy 2.0 models, the engine, and the query functions that use them."""
