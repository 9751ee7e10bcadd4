"""The rule every TLS endpoint's configuration follows: all its files with TLS on, none with it off."""

from __future__ import annotations

from collections.abc import Mapping


def check_tls_files(
    *, tls: bool, required: Mapping[str, object], optional: Mapping[str, object] | None = None
) -> None:
    """Raise ValueError for `tls = true` without a required file, or for any file given with `tls = false`.

    Certificates configured but TLS off would silently serve plain TCP: the ambiguity is refused.
    """
    if tls and (missing := [name for name, value in required.items() if not value]):
        raise ValueError(f"tls = true needs {', '.join(missing)}")
    if not tls and (given := [name for name, value in {**required, **(optional or {})}.items() if value]):
        raise ValueError(f"{', '.join(given)} set but tls = false")
