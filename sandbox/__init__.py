"""The calibration sandbox: simulated provincial portals with planted defects and ground truth."""
