"""Quality: satisfaction, complaints, commitments, statistics and the audit log.

Plain functions over a SQLAlchemy session, like queue_app/queue: they flush,
never commit; views and jobs commit.
"""
