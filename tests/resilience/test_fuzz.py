"""Fuzzing the two parsers of untrusted input, bounded: only their documented error types may escape.

MQTT payload decoding (`inbound.decode` for every inbound model, and the EMS request's conversion) may
raise only `InboundError`; the SCL loader (`scl.parse.loads`) only `SclError`. Inputs are random bytes,
random JSON shaped like the payloads, and mutations (cuts, byte flips, splices) of valid documents.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from relevent.errors import SclError
from relevent.lan.mqtt.ems import to_request
from relevent.lan.mqtt.inbound import InboundError, decode
from relevent.lan.mqtt.payloads import Ack, Availability, DeviceState, ExtensionRequestPayload, Measurement
from relevent.scl.parse import SCL_NS, loads

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODELS: list[type[BaseModel]] = [Ack, Measurement, DeviceState, Availability, ExtensionRequestPayload]
# Field names of every inbound payload, so random objects often get past "unknown field" to the values.
KEYS = sorted({name for model in MODELS for name in model.model_fields} | {"seconds", "nanos", "applied"})

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=40)
keys = st.sampled_from(KEYS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)


def mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """`valid` cut short, with bytes flipped, or with random bytes spliced in."""
    cut = st.integers(0, len(valid)).map(lambda n: valid[:n])
    flipped = st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1, max_size=8)
    splice = st.tuples(st.integers(0, len(valid)), st.binary(max_size=64))
    return (
        cut
        | flipped.map(lambda flips: _flip(valid, flips))
        | splice.map(lambda at_data: valid[: at_data[0]] + at_data[1] + valid[at_data[0] :])
    )


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    changed = bytearray(data)
    for index, value in flips:
        changed[index] = value
    return bytes(changed)


VALID_PAYLOADS = [
    b'{"id": "7c1e8c4e-6c6a-4c4e-9a8e-0d1f6b0f3a11", "result": "accepted", "ts": "2024-01-01T00:00:00Z"}',
    b'{"ts": "2024-01-01T00:00:00Z", "w": 1500.5}',
    b'{"state": "online"}',
    (
        b'{"direction": "IMPORT", "resolution": "FIFTEEN_MINUTES", "values": [1000, 2000],'
        b' "start": {"seconds": 1704067200}}'
    ),
]
payloads = (
    st.binary(max_size=512)
    | json_values.map(lambda value: json.dumps(value, allow_nan=True).encode())
    | st.sampled_from(VALID_PAYLOADS).flatmap(mutated)
)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@FUZZ
@given(payload=payloads)
def test_mqtt_payload_decoding_raises_only_inbound_error(model: type[BaseModel], payload: bytes) -> None:
    reason: str | None = None
    try:
        decoded = decode(model, payload)
    except InboundError as exc:
        reason = exc.reason
    else:
        if isinstance(decoded, ExtensionRequestPayload):
            to_request(decoded)  # a valid request converts without raising
    assert reason in {None, "invalid_json", "invalid_payload"}


SCL_DOC = f"""<?xml version="1.0"?>
<SCL xmlns="{SCL_NS}" version="2007" revision="B">
<IED name="X"><AccessPoint name="AP"><Server><LDevice inst="LD">
<LN0 lnClass="LLN0" inst="" lnType="T_L0"/>
<LN lnClass="GGIO" inst="1" lnType="T_LN"><DOI name="Beh"><DAI name="stVal"><Val>off</Val></DAI></DOI>
<DOI name="Cnt"><DAI name="stVal"><Val>7</Val></DAI></DOI></LN>
</LDevice></Server></AccessPoint></IED>
<DataTypeTemplates>
<LNodeType id="T_L0" lnClass="LLN0"><DO name="Beh" type="T_ENS"/></LNodeType>
<LNodeType id="T_LN" lnClass="GGIO"><DO name="Beh" type="T_ENS"/><DO name="Cnt" type="T_INS"/></LNodeType>
<DOType id="T_ENS" cdc="ENS"><DA name="stVal" bType="Enum" type="T_Beh" fc="ST"/></DOType>
<DOType id="T_INS" cdc="INS"><DA name="stVal" bType="INT8" fc="ST" count="2"/>
<DA name="q" bType="Quality" fc="ST"/><DA name="t" bType="Timestamp" fc="ST"/></DOType>
<EnumType id="T_Beh"><EnumVal ord="1">on</EnumVal><EnumVal ord="5">off</EnumVal></EnumType>
</DataTypeTemplates>
</SCL>
""".encode()


def test_the_fuzzed_scl_document_is_valid() -> None:
    assert loads(SCL_DOC).ieds[0].ldevices[0].lns[1].name == "GGIO1"


@FUZZ
@given(data=st.binary(max_size=1024) | mutated(SCL_DOC))
def test_the_scl_loader_raises_only_scl_error(data: bytes) -> None:
    try:
        loads(data, "fuzzed.cid")
    except SclError as exc:
        error = str(exc)
    else:
        error = "fuzzed.cid: (parsed)"
    assert error.startswith("fuzzed.cid")  # every error names its source
