"""EV chargers over OCPP 2.1, 2.0.1 and 1.6J: the gateway as their local CSMS, or their local proxy."""
