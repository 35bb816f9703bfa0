"""QR codes of outlets: a signed URL per outlet (django.core.signing), drawn with segno.

The token is "<outlet id>.<qr version>:<signature>". Only the server can make one; a changed
character is a bad signature (404). Raising the outlet's `qr_version` (services.outlet_qr_reissue)
retires every label printed before, e.g. when a sign was stolen or copied elsewhere.
"""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.core import signing
from django.urls import reverse

from civicloop.environment.models import Outlet

SALT = "civicloop.environment.outlet-qr"


def outlet_token(outlet: Outlet) -> str:
    return signing.Signer(salt=SALT).sign(f"{outlet.pk}.{outlet.qr_version}")


def outlet_from_token(token: str) -> Outlet | None:
    """The outlet a token was signed for, or None (bad signature, old label, inactive)."""
    try:
        value = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    outlet_id, _sep, version = value.partition(".")
    if not (outlet_id.isdigit() and version.isdigit()):
        return None
    return (
        Outlet.objects.filter(pk=int(outlet_id), qr_version=int(version), is_active=True)
        .select_related("enterprise__town", "monitoring_point")
        .first()
    )


def outlet_path(outlet: Outlet) -> str:
    return reverse("environment:scan", args=[outlet_token(outlet)])


def outlet_url(outlet: Outlet) -> str:
    return settings.SITE_URL.rstrip("/") + outlet_path(outlet)


def qr_svg(url: str, *, scale: int = 4) -> str:
    """An inline SVG (no XML declaration) for pages."""
    svg: str = segno.make(url, error="m").svg_inline(scale=scale, border=2)
    return svg


def qr_png(url: str, *, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
