"""``GET /api/v1/search``: customers by any key (``adapter.queries.search``).

Every criterion of :class:`~adapter.queries.search.SearchCriteria` is a query parameter of
the same name; criteria combine with AND. Paging as everywhere (``offset``, ``limit``,
``X-Total-Count``, ``X-Result-Count``); a query the search refuses (no criterion, a name
fragment too short to narrow anything down, a malformed MSISDN…) is 400 naming the parameter.
Birth dates are masked without ``pii.read``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from adapter.api.access import Caller
from adapter.api.auth import require
from adapter.api.context import ApiContext, get_context
from adapter.api.errors import from_domain
from adapter.api.present import present
from adapter.api.privileges import Privilege
from adapter.api.tmf import FieldsParam, Paging, filters_from, paging, project, set_paging_headers
from adapter.domain.errors import ValidationFailed
from adapter.queries.search import SearchCriteria, SearchPage, search
from adapter.store.reading import read_connection

router = APIRouter(prefix="/api/v1", tags=["search"])

Text = Annotated[str | None, Query(max_length=400)]


@router.get(
    "/search",
    summary="Find customers by name, address, birth date, identifiers, MSISDN, contract…",
)
async def search_customers(
    request: Request,
    response: Response,
    caller: Annotated[Caller, Depends(require(Privilege.CUSTOMERS_READ))],
    context: Annotated[ApiContext, Depends(get_context)],
    page: Annotated[Paging, Depends(paging)],
    fields: FieldsParam = None,
    name: Text = None,
    fuzzy_name: Text = None,
    address: Text = None,
    postcode: Text = None,
    city: Text = None,
    birth_date: Text = None,
    email: Text = None,
    tin: Text = None,
    personal_id: Text = None,
    passport: Text = None,
    msisdn: Text = None,
    imsi: Text = None,
    iccid: Text = None,
    contract_number: Text = None,
    customer_number: Text = None,
    former_holders: bool = False,
) -> list[dict[str, Any]]:
    filters_from(request, ())  # the search is closed: an unknown parameter is a 400
    criteria = SearchCriteria(
        name=name,
        fuzzy_name=fuzzy_name,
        address=address,
        postcode=postcode,
        city=city,
        birth_date=birth_date,
        email=email,
        tin=tin,
        personal_id=personal_id,
        passport=passport,
        msisdn=msisdn,
        imsi=imsi,
        iccid=iccid,
        contract_number=contract_number,
        customer_number=customer_number,
        former_holders=former_holders,
    )

    def run() -> SearchPage:
        with read_connection(context.engine) as conn:
            return search(conn, criteria, limit=page.limit, offset=page.offset)

    try:
        found = await run_in_threadpool(run)
    except ValidationFailed as exc:
        raise from_domain(exc, invalid_status=400) from None
    items = found.as_dict()["items"]
    set_paging_headers(response, found.total, len(items))
    base = str(request.base_url).rstrip("/")
    return [
        project(
            present(
                {
                    "@type": "CustomerSummary",
                    **item,
                    "href": f"{base}/api/v1/customers/{item['id']}",
                },
                caller,
            ),
            fields,
        )
        for item in items
    ]
