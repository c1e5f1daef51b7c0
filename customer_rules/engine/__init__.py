"""The engine: plugins, compiled policies, fitting, stability. Internal; use the package root."""
