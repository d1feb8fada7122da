"""The database: models, sessions and migrations glue, the raw store, records, mailings stored,
erasure and the pseudonym key.
"""
