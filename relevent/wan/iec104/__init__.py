"""IEC 60870-5-104 outstation: SCADA commands as intents, controller state as monitored objects."""
