"""Benchmarks that compare in one run: every figure is a ratio against a baseline measured in
the same run (`make bench`, or `python -m bench --help`)."""
