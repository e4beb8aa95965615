"""Persistence: typed SQLAlchemy models, the engine, repositories and database-level guards.

Imports nothing of ours (checked by import-linter).
"""
