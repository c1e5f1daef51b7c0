"""Applications on top of the engine: agenda and allocation. Internal."""
