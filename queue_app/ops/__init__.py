"""Operations: Prometheus metrics, backups and restores, structured logs."""
