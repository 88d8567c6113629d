"""The parts of the ``search_accuracy`` probe: keyword rules, the judge and the browser observer."""
