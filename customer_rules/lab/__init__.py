"""The policy lab: verify, check, compare, sweep, plots, generated and sample data. Internal."""
