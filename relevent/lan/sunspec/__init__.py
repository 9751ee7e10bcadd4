"""SunSpec inverters over Modbus TCP: discovery, codec, the intent mapping, the driver."""
