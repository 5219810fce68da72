"""Training: the Accelerate loop (:mod:`.loop`), checkpoints, run folders, schedules, the monitor.

Imported piecewise: readers of a run (:mod:`.runs`) never load the training loop.
"""
