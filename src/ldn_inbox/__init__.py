"""ldn-inbox: a patient organisation's survey mailbox turned into a reviewable dataset."""

__version__ = "0.1.0"
