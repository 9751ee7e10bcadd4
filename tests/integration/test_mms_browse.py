"""Both independent clients browse the whole served model of every reference model and the default model."""

from __future__ import annotations

from pathlib import Path

import pytest
from open61850.mms import discover

from relevent.scl.parse import load
from tests.conftest import MODEL_NAMES, ReferenceDir
from tests.integration.mms_gateway import gateway, iec_client, open_client


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_both_clients_browse_exactly_the_scl_model(
    model: str, tmp_path: Path, reference_dir: ReferenceDir
) -> None:
    scl = reference_dir.model(model)
    ied = load(scl).ieds[0]
    expected = {
        ld.name: {ln.name: sorted(do.name for do in ln.type.data_objects) for ln in ld.lns}
        for ld in ied.ldevices
    }
    with gateway(tmp_path, scl) as (_, args):
        with iec_client(args.mms_port) as iec:
            browsed = {
                ld: {
                    ln: sorted(iec.call_blocking("data_objects", f"{ld}/{ln}"))
                    for ln in iec.call_blocking("logical_nodes", ld)
                }
                for ld in iec.call_blocking("logical_devices")
            }
        with open_client(args.mms_port) as client:
            discovered = discover(client)
    assert browsed == expected
    assert {
        ld: {ln: sorted(node.data_objects()) for ln, node in device.logical_nodes.items()}
        for ld, device in discovered.logical_devices.items()
    } == expected
