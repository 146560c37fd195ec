"""Operations: devices alive, printer health, alerts (and, beside them, metrics and backups)."""
