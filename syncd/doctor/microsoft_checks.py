"""Microsoft checks: a token, the permissions in it, and a mailbox that answers.

The token's `roles` claim lists the application permissions the app was granted
(https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference);
a mailbox fenced off by an Exchange application access policy answers 403
ErrorAccessDenied, a missing one 404
(https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

import jwt
import requests

from syncd.doctor.report import MICROSOFT, Check, failed, passed
from syncd.domain import SyncdError
from syncd.runtime import GraphAccess

#: What syncd calls needs: events (Calendars.ReadWrite) and the organizer's time zone
#: (MailboxSettings.Read): https://learn.microsoft.com/en-us/graph/api/user-post-events
#: and https://learn.microsoft.com/en-us/graph/api/user-get-mailboxsettings
REQUIRED_ROLES = ("Calendars.ReadWrite", "MailboxSettings.Read")
#: Mailboxes tried before giving up: some owners have none by design.
MAX_MAILBOXES_TRIED = 5


@dataclass
class GraphFindings:
    checks: list[Check]
    date_header: str | None  # of a Graph answer, for the clock check


def token_roles(token: str) -> list[str] | None:
    """The `roles` claim of an access token; None when it is not a JWT.

    Read without verifying the signature: the token came to us straight from the
    identity platform over TLS and is only read to report what it grants; Graph
    validates it on every call, and Graph's tokens are not meant to be verified by
    clients (their signature uses a key only Graph checks).
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    roles = claims.get("roles") or []
    return [str(role) for role in roles] if isinstance(roles, list) else []


def check_graph(access: GraphAccess, mailboxes: Iterable[str], *, sandbox: bool) -> GraphFindings:
    where = "the sandbox connection file" if sandbox else "[microsoft] client_secret"
    try:
        token = access.tokens.token()
    except SyncdError as exc:
        return GraphFindings(
            [
                failed(
                    MICROSOFT,
                    "token",
                    exc.message,
                    f"check tenant_id, client_id and the credential in {where}: in the Entra "
                    "admin center (App registrations > Certificates & secrets) the secret must be "
                    "the secret's value, unexpired",
                )
            ],
            None,
        )
    checks = [passed(MICROSOFT, "token", f"issued to app {access.client_id}")]
    checks.append(_roles_check(token, access.client_id))
    mailbox_check, date = _mailbox_check(access, token, mailboxes)
    checks.append(mailbox_check)
    return GraphFindings(checks, date)


def _roles_check(token: str, client_id: str) -> Check:
    roles = token_roles(token)
    if roles is None:
        return failed(
            MICROSOFT,
            "permissions",
            "the access token is not a JWT: its roles cannot be read",
            "check that [microsoft] authority_host is the Microsoft identity platform",
        )
    missing = [role for role in REQUIRED_ROLES if role not in roles]
    if missing:
        return failed(
            MICROSOFT,
            "permissions",
            f"the token's roles lack {', '.join(missing)} (has: {', '.join(roles) or 'none'})",
            f"in the Entra admin center, App registrations > app {client_id} > API permissions: "
            f"add Microsoft Graph application permission(s) {', '.join(missing)}, then "
            "'Grant admin consent'",
        )
    return passed(MICROSOFT, "permissions", f"roles include {', '.join(REQUIRED_ROLES)}")


def _mailbox_check(
    access: GraphAccess, token: str, mailboxes: Iterable[str]
) -> tuple[Check, str | None]:
    date: str | None = None
    missing: list[str] = []
    for mailbox in list(dict.fromkeys(mailboxes))[:MAX_MAILBOXES_TRIED]:
        url = f"{access.graph_url.rstrip('/')}/users/{quote(mailbox)}/mailboxSettings/timeZone"
        try:
            answer = access.session.get(
                url, headers={"Authorization": f"Bearer {token}"}, timeout=(5, 30)
            )
        except requests.RequestException as exc:
            return (
                failed(
                    MICROSOFT,
                    "mailbox",
                    f"Graph at {access.graph_url} did not answer: {type(exc).__name__}",
                    "check [microsoft] graph_url and the network path to it (proxy, firewall)",
                ),
                date,
            )
        date = answer.headers.get("Date", date)
        code, message = _error(answer)
        if answer.status_code == 200:
            zone = answer.json().get("value", "?")
            return passed(MICROSOFT, "mailbox", f"{mailbox} answers (time zone {zone})"), date
        # A policy and a missing permission both answer 403 ErrorAccessDenied; only the
        # policy's message names it ("... Blocked by tenant configured AppOnly
        # AccessPolicy settings.").
        if answer.status_code == 403 and "AccessPolicy" in message:
            return (
                failed(
                    MICROSOFT,
                    "mailbox",
                    f"{mailbox} answers 403 ErrorAccessDenied: an application access policy "
                    f"keeps app {access.client_id} out of it",
                    "add the Salesforce Event owners' mailboxes to the mail-enabled security group "
                    "of the app's application access policy (Exchange Online PowerShell: "
                    f"Test-ApplicationAccessPolicy -Identity {mailbox} -AppId {access.client_id}); "
                    "see https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access",
                ),
                date,
            )
        if answer.status_code == 404:
            missing.append(f"{mailbox} ({code or 404})")
            continue
        return (
            failed(
                MICROSOFT,
                "mailbox",
                f"{mailbox} answers {answer.status_code} {code or ''}: {message}".rstrip(": "),
                "grant the app the Graph application permission MailboxSettings.Read "
                "(and Calendars.ReadWrite) with admin consent, then retry",
            ),
            date,
        )
    if not missing:
        return passed(MICROSOFT, "mailbox", "no organizer known yet: nothing to ask"), date
    return (
        failed(
            MICROSOFT,
            "mailbox",
            f"no mailbox found: {', '.join(missing)}",
            "give the Event owners Exchange Online mailboxes (a licence), or check "
            "mail_domains: these addresses have none in this tenant",
        ),
        date,
    )


def _error(answer: requests.Response) -> tuple[str | None, str]:
    """Graph's error code and message ({"error": {"code", "message"}})."""
    try:
        body = answer.json()
    except ValueError:
        return None, ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, ""
    return str(error.get("code")), str(error.get("message") or "")
