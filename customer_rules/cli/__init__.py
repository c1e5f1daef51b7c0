"""The command line. Internal."""
