"""Reading a message: MIME, HTML to text, the mailings sent, the writer's own words, the kind.

Pure: bytes or text in, objects out; nothing here imports the store or SQLAlchemy.
"""
