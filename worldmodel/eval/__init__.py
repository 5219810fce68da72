"""Evaluation of trained runs: readouts, probes, DCI, reference motion, the per-task metrics."""
