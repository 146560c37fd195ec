"""Security at the edge: who may do what, rate limits, response headers."""
