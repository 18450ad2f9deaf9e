"""One handler per CIL operation, registered in a plain dict (operation name -> handler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ops_billing as billing
from . import ops_contracts as contracts
from . import ops_customers as customers
from .context import Context
from .soap import Node

Handler = Callable[[Context, Node], Any]

HANDLERS: dict[str, Handler] = {
    "CustomerNew": customers.customer_new,
    "CustomerRead": customers.customer_read,
    "CustomerWrite": customers.customer_write,
    "CustomersSearch": customers.customers_search,
    "CustomerHierarchyWrite": customers.customer_hierarchy_write,
    "AddressWrite": customers.address_write,
    "CustomerInfoWrite": customers.customer_info_write,
    "ContractNew": contracts.contract_new,
    "ContractRead": contracts.contract_read,
    "ContractWrite": contracts.contract_write,
    "ContractServicesAdd": contracts.contract_services_add,
    "ContractServicesRead": contracts.contract_services_read,
    "ContractServicesWrite": contracts.contract_services_write,
    "DiscountAssign": billing.discount_assign,
    "DiscountRemove": billing.discount_remove,
    "BalancesRead": billing.balances_read,
    "ContractFreeUnitsRead": billing.contract_free_units_read,
    "UsageDataRecordsRead": billing.usage_data_records_read,
}
