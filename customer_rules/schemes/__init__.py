"""Built-in classification schemes, one plugin package per scheme."""
