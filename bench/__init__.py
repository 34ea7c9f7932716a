"""Benchmarks: `python -m bench all [--size tiny|small|full] [--json OUT]`.

Every figure is a ratio against a baseline measured in the same run on the same machine, with the
absolute numbers beside it. Nothing here is asserted by the test suite except that each benchmark
runs (at the tiny size) and writes its report.
"""
