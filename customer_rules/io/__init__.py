"""Reading and writing customer files. Internal."""
