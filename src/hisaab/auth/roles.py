"""Roles and their permissions, declared once: the seed's table plus `admin`.

The additions to the seed are `exceptions:approve`, which its maker-checker rule needs (a
resolution above the approval threshold waits for a second, different user holding it), and
for money out `merchants:write` (sp-ops, sp-finance) and `settlements:approve` (sp-finance: a
change of a merchant's terms waits for a second finance user).
"""

from __future__ import annotations

from typing import Final

OVERVIEW_READ: Final = "overview:read"
RECONCILIATION_WRITE: Final = "reconciliation:write"
EXCEPTIONS_RESOLVE: Final = "exceptions:resolve"
EXCEPTIONS_APPROVE: Final = "exceptions:approve"
CONNECTORS_CONFIGURE: Final = "connectors:configure"
REPORTS_GENERATE: Final = "reports:generate"
ANALYTICS_READ: Final = "analytics:read"
SETTLEMENTS_READ: Final = "settlements:read"
DISPUTES_READ: Final = "disputes:read"
AUDIT_READ: Final = "audit:read"
MERCHANT_DASHBOARD: Final = "merchant:dashboard"
MERCHANT_SETTLEMENTS: Final = "merchant:settlements"
MERCHANT_REPORTS: Final = "merchant:reports"
MERCHANT_DISPUTES: Final = "merchant:disputes"
# Money out: merchants and their terms are written by platform ops and finance; a change of
# terms takes effect when a second finance user approves it (maker-checker).
MERCHANTS_WRITE: Final = "merchants:write"
TERMS_APPROVE: Final = "settlements:approve"
# Real-time reconciliation's REST and WebSocket API is for administrators only (its seed).
REALTIME_ADMIN: Final = "realtime:admin"

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "sp-ops": frozenset(
        {
            OVERVIEW_READ,
            RECONCILIATION_WRITE,
            EXCEPTIONS_RESOLVE,
            EXCEPTIONS_APPROVE,
            CONNECTORS_CONFIGURE,
            REPORTS_GENERATE,
            ANALYTICS_READ,
            MERCHANTS_WRITE,
        }
    ),
    "sp-finance": frozenset(
        {
            OVERVIEW_READ,
            SETTLEMENTS_READ,
            REPORTS_GENERATE,
            ANALYTICS_READ,
            DISPUTES_READ,
            MERCHANTS_WRITE,
            TERMS_APPROVE,
        }
    ),
    "sp-compliance": frozenset(
        {OVERVIEW_READ, ANALYTICS_READ, REPORTS_GENERATE, AUDIT_READ, DISPUTES_READ}
    ),
    "merchant-admin": frozenset(
        {MERCHANT_DASHBOARD, MERCHANT_SETTLEMENTS, MERCHANT_REPORTS, MERCHANT_DISPUTES}
    ),
}
ROLE_PERMISSIONS["admin"] = frozenset().union(*ROLE_PERMISSIONS.values()) | {REALTIME_ADMIN}

ROLES: Final = tuple(sorted(ROLE_PERMISSIONS))


def permissions_of(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
