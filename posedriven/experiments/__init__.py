"""Experiments as declared tables (``gin_configs/experiments/``).

``spec`` reads a declaration (datasets, runs, rows, claims, seeds, a
selection grid); ``runner`` runs it, reusing finished work; ``plan``
lists what it would run and what that costs, running nothing.
"""
