"""The fleet: ``nightly`` as a coordinator and ``zwaudit worker`` processes on a PostgreSQL queue.

``app`` builds the Procrastinate app and its schema, ``jobs`` the two units of work (crawl one
portal; run one check on one portal), ``hosts`` the fleet-wide per-host leases, ``coordinator``
the nightly run over the queue and ``worker`` the long-lived worker process. See
docs/deployment.md for the deployment and docs/architecture.md for the contracts.
"""
