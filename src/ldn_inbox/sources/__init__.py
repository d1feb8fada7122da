"""Where messages come from: files, mbox, maildir (files.py) and IMAP (imap.py)."""
