"""Operations: devices alive, printer health, alerts, metrics, backups, structured logs."""
