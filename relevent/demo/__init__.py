"""`relevent-gw demo`: the gateway with a loopback broker, simulated devices and a demo schedule."""
