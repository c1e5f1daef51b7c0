"""Event streams and statecharts. Internal; use the package root and
:mod:`customer_rules.plugin`.

``events`` (the event models and how they are validated), ``session`` (one
customer's record built from their events), ``statecharts`` (what plugins
declare, and the python runners), ``durable`` (the same charts on
durable_rules), ``changes`` (what an event changed) and ``stream`` (the
:class:`~customer_rules.EventStream` that ties them together).
"""
