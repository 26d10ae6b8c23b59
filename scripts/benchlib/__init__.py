"""What the benchmarks (``bench_feed.py``, ``bench_inference.py``) share, so each bench reads as
its own script: ``data`` (the Parquet rows every bench measures), ``session`` (Spark on
local-cluster or on the simulated hosts of ``sim_cluster.py``, and ending it), ``processes``
(CPU and RSS of this run's processes, ending what it left), ``rounds`` (progress lines, run
names, best/median/cold summaries, files the nodes write)."""
