"""The policy language: syntax tree, parser, types, checker, policy model and checked policies. Internal."""
