"""Backends that compile checked policies to deciders for records and tables. Internal."""
