"""What the distributed runs (``customer_rules.spark``, ``customer_rules.dask``) share.

:mod:`customer_rules.scale.partition` is the code every partition runs on a
worker — the engine's own table path (``classify_frame_with_rejects``, and
the fitting module's measures) over one Arrow chunk at a time — and
:mod:`customer_rules.scale.cuts` turns measures aggregated by the cluster
into the same cut-offs ``Engine.fit`` learns on one machine. Neither imports
Spark or Dask.
"""
