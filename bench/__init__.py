"""Benchmarks: `python -m bench all [--size tiny|small|full] [--json OUT]`.

Every figure is a ratio against a baseline measured in the same run on the same machine, with the
absolute numbers beside it. The test suite never asserts a speed: it checks that each benchmark runs
(at the tiny size) and writes its report, and the scale-out benchmark's proof that no write happened
twice (a correctness check, not a timing).
"""
