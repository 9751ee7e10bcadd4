"""SCL: parse, validate and generate IEC 61850-6 configuration files."""
