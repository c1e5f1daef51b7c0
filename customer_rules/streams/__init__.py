"""Event streams and statecharts. Internal; use the package root."""
