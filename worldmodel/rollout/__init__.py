"""Rollouts: sampling futures from the learned prior, scoring them, plots."""
