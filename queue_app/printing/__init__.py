"""Kiosk ticket printing on the server: spool, rendering with guichet_printer, print thread."""
