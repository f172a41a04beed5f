"""mPLUG-2 notebook: which module each modality's path uses, per sharing toggle."""

from __future__ import annotations

__all__ = ["sharing_html", "sharing_map"]


def sharing_map(shared_spatial: bool, shared_universal: bool) -> dict[str, str]:
    """Which module each modality's path uses, per toggle: the pure function behind the
    notebook's module-diagram toggles. Values name the module instance (same name: shared)."""
    return {
        "image spatial": "S",
        "video spatial": "S" if shared_spatial else "S_video",
        "video temporal": "T_video",
        "text encoder": "E_text",
        "image universal": "U",
        "video universal": "U" if shared_universal else "U_video",
        "text universal": "U" if shared_universal else "U_text",
    }


def sharing_html(spatial: bool, universal: bool) -> str:
    """The explorer's view: :func:`sharing_map` as a table, the number of distinct modules and
    the modules through which video borrows from images."""
    m = sharing_map(spatial, universal)
    values = list(m.values())
    rows = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in m.items())
    shared = ", ".join(k for k in ("S", "U") if values.count(k) > 1) or "nothing"
    return (
        f"<table>{rows}</table><p>{len(set(values))} distinct modules; video borrows from "
        f"images through: {shared}</p>"
    )
