"""What every Modbus TCP driver shares: one owned connection per device and one worker per device."""
