"""The Teams app package: manifest.json plus the two icons, zipped for upload to Teams.

The template lives in ``manifest/teams/`` at the project root (placeholder GUID and domain, so
the template itself validates against the 1.29 schema); ``build_teams_package`` fills in the
bot's Microsoft App ID and the public domain. The CLI (``alignment teams-package``) calls it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from adapters.teams.icons import color_icon, outline_icon

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"


def _domain(domain: str) -> str:
    """Accept "bot.example.com" or "https://bot.example.com/": the manifest wants a host."""
    host = urlsplit(domain if "://" in domain else f"https://{domain}").hostname
    if not host:
        raise ValueError(f"Not a domain: {domain!r}")
    return host


def build_manifest(app_id: str, domain: str, template_dir: Path = TEMPLATE_DIR) -> dict[str, Any]:
    app_id = str(UUID(app_id))  # Teams requires a GUID; fail here, not at upload
    host = _domain(domain)
    manifest: dict[str, Any] = json.loads((template_dir / "manifest.json").read_text("utf-8"))
    manifest["id"] = app_id
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    manifest["validDomains"] = [host]
    developer = manifest["developer"]
    developer["websiteUrl"] = f"https://{host}/"
    developer["privacyUrl"] = f"https://{host}/privacy"
    developer["termsOfUseUrl"] = f"https://{host}/terms"
    return manifest


def _icon(template_dir: Path, name: str) -> bytes:
    path = template_dir / name
    if path.exists():
        return path.read_bytes()
    # An installed wheel has no manifest folder's PNGs: draw them again.
    return color_icon() if name == "color.png" else outline_icon()


def build_teams_package(
    out_path: str | Path, app_id: str, domain: str, *, template_dir: Path = TEMPLATE_DIR
) -> Path:
    """Write the app package zip (manifest.json, color.png, outline.png) and return its path."""
    manifest = build_manifest(app_id, domain, template_dir)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        archive.writestr("color.png", _icon(template_dir, "color.png"))
        archive.writestr("outline.png", _icon(template_dir, "outline.png"))
    return out
