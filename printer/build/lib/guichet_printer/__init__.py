"""Guichet ticket printing: ESC/POS layout, printer connections by URL, the print agent.

Runs on a kiosk PC without the server (``pip install ./printer``); the server
uses the same layout code.
"""

__version__ = "0.1.0"
