"""The static HTML report of a run (``zwaudit report``): rankings with bands, per-portal
scorecards with inline-SVG charts, findings by probe with screenshots, and the changes since the
previous run. Chinese labels throughout; no JavaScript and no external URL."""
