"""linnet's benchmarks, kept out of the wheel: ``python -m benchmarks`` (the speed and memory tables
of the README; ``--help``), ``python -m benchmarks.bench_torch`` (the PyTorch adapter's). Run from a
source checkout (the repository root on ``sys.path``)."""
