"""Counts its own executions."""
import sys

sys.counter_mod_runs = getattr(sys, "counter_mod_runs", 0) + 1
RUNS = sys.counter_mod_runs
