"""Realtime: the events pushed after commit, the Socket.IO handlers, the Redis
plumbing between processes, the per-address socket limits."""
