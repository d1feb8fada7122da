"""What analysts get: SQL views, exports, the data dictionary, the report and its numbers,
and scoring against a gold file.
"""
