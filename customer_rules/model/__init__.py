"""The record model, decisions, strategies, features and flat tables. Internal."""
