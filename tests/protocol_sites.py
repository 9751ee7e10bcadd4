"""Configuration fragments that add one protocol's listener to a test gateway (TOML text)."""

from __future__ import annotations


def iec104(port: int) -> str:
    """An outstation on `port` for the actor `dso` (its default), beside one MQTT battery."""
    return f"""
[[devices]]
id = "bat1"
class = "battery"
w_max_lim = "@Control/MaxPow_FSCC1"

[[actors]]
name = "dso"
band = [60, 69]
slots = ["@Control/MaxPow_FSCH05"]

[iec104]
enabled = true
host = "127.0.0.1"
port = {port}
"""


def ocpp(port: int) -> str:
    """The OCPP CSMS on `port`, with its station `cs-1`."""
    return f"""
[[devices]]
id = "cs-1"
class = "ev_charger"
protocol = "ocpp"
w_max_lim = "@Control/MaxPow_FSCC1"

[ocpp]
host = "127.0.0.1"
port = {port}
"""
