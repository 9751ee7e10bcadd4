"""HEDERA capacity requests: the EMS asks over MQTT, HEDERA grants over HTTPS, grants become intents.

`config` is the `[hedera]` section, `client` the HTTP side (token, retries, directives), `codec` HEDERA's
JSON, `ems` the EMS's requests and replies, `lifecycle` the per-direction state machine with the
firm-capacity fallback, `store` what survives a restart, `service` the MQTT session around it all.
"""
