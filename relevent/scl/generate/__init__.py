"""Generate relevent-gw's default SCL model: a DER scheduler (IEC 61850-90-10) IED, type tables included.

The object names and type ids are those of the public DER scheduler reference model (IED `DER_Scheduler_`,
LD `Control`, `ActPow_FSCC1`, `ActPow_FSCH01`, `ActPow_Res_FSCH01`, `ActPow_GGIO1.AnOut1`, ...), so SCADA
tools and test suites written for it work unchanged. The tables are written from the standard
(IEC 61850-7-3/-7-4/-90-10 names, CDCs and enumerations); no third-party file is copied. The enumerations
and value CDCs the scheduler interprets come from its own definitions (`relevent.scheduler`).

Modules: `functions` (what is scheduled), `options`, `names`, `data_types` / `enum_types` /
`lnode_types` (the type tables), `templates` and `ied` (writing them and the instances), `xml`.

Choices where the published reference models disagree or fall short:
- GGIO outputs are controllable (APC/SPC, direct-with-normal-security) and `CtlEnt` names the DO, as in
  the newest reference; `MaxPow_GGIO1` uses the ActPow output type as the reference does.
- The FSCC `ValSPS` is a plain SPS (a status, not a control), as in the older reference.
- Reserve schedules are periodic with as many `StrTm` (with `setCal`) as the other schedules; only
  `StrTm01` is set: every hour from 2020-01-01T00:00:00Z, minute 0.
- Reserve values: 0 for ActPow and MaxPow (for MaxPow a fail-safe limit of 0 until a schedule sets one),
  `true` (connected) for OnOff, so a gateway without schedules does not disconnect its devices; the
  reference has `false` there.
- Every LD (one per device) has its own LLN0, LPHD1 and `MMXU1.TotW` (measured active power, W).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from lxml import etree

from relevent.scl.generate.ied import write_header_and_communication, write_ied
from relevent.scl.generate.options import GeneratorOptions
from relevent.scl.generate.templates import write_templates
from relevent.scl.generate.xml import SCL_NS

DEFAULT_MODEL: Final = Path(__file__).parents[2] / "data" / "der_scheduler.cid"


def generate_scl(options: GeneratorOptions | None = None) -> etree._ElementTree:
    """Build the SCL 2007B4 document for `options` (the default model when None)."""
    options = options or GeneratorOptions()
    # Parsed rather than built: lxml-stubs reject nsmap={None: ...}, the way to make SCL_NS the default.
    root = etree.fromstring(f'<SCL xmlns="{SCL_NS}" version="2007" revision="B" release="4"/>')
    write_header_and_communication(root, options)
    write_ied(root, options)
    write_templates(root, options)
    return etree.ElementTree(root)


def render_scl(options: GeneratorOptions | None = None) -> bytes:
    """Serialize the document as indented UTF-8; identical options give identical bytes."""
    return etree.tostring(generate_scl(options), xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_scl(options: GeneratorOptions | None, path: str | Path) -> Path:
    """Write the document to `path` and return the path."""
    target = Path(path)
    target.write_bytes(render_scl(options))
    return target


__all__ = ["DEFAULT_MODEL", "SCL_NS", "GeneratorOptions", "generate_scl", "render_scl", "write_scl"]
