"""EV chargers over OCPP: the gateway as the local CSMS of its charging stations (2.0.1)."""
