"""The benchmarks (bench/run.py): one module per section, launch.py and report.py shared."""
