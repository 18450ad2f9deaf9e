"""``GET /api/v1/whoami``: the caller as the API sees it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from adapter.api.access import Caller
from adapter.api.auth import require

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/whoami", summary="The authenticated caller, its role and privileges")
def whoami(caller: Annotated[Caller, Depends(require())]) -> dict[str, Any]:
    return {
        "@type": "Caller",
        "name": caller.name,
        "role": caller.role,
        "privileges": sorted(p.value for p in caller.privileges),
        "token_id": caller.token_id,
    }
