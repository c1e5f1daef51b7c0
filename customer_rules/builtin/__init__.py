"""Built-in plugins. Each module here is a plugin registered through the same
plugin manager as third-party plugins; the default-plugins list in
``customer_rules.engine.plugins`` is the one place that names them."""
