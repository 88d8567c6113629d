"""The parts of the ``auth_https`` probe: the observation, its judge and the browser observer."""
