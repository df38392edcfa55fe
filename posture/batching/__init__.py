"""Internals of `posture.batch`: inputs, rows, result files, progress and the engines that run workers.

The public entry points are in `posture.batch`.
"""
