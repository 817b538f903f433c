"""The naive peer: the same jobs done the straightforward way, for comparison.

    python -m bench.naive_peer JOB --config CONFIG [--ledger PATH] [--days 7] ...

What makes it naive (the issue's definition): one Graph call at a time and no
$batch; a GET per meeting to read responses; a calendarView per user for
availability; one Salesforce update per record. Everything else is done as
syncd does it, so the comparison is about the call pattern: it reads Salesforce
with the same SOQL pages (relations in chunks of 200), maps Events to meetings
with syncd's own mapping and honours Retry-After. It keeps no ledger: what it
needs to remember is read from a copy of syncd's (`--ledger`).

Plain requests + msal for Graph, simple-salesforce for Salesforce.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msal
import requests
from simple_salesforce import Salesforce

from bench.child import TENANT, child_usage, current_rss_mib, emit
from syncd.config import TenantConfig, load_config
from syncd.core import event_mapping as em
from syncd.domain import format_gmt
from syncd.sync import queries as q
from syncd.sync.salesforce_event import Invalid, parse_event, to_meeting
from syncd.sync.writeback import responses_summary

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
RELATION_CHUNK = 200
PAGE_TOP = 100


class Graph:
    """One request at a time, Retry-After honoured, nothing else."""

    def __init__(self, connection: dict[str, Any], session: requests.Session) -> None:
        tenant = next(t for t in connection["tenants"] if t["name"] == TENANT)
        self.base = connection["graph_url"].rstrip("/")
        self.session = session
        self.app = msal.ConfidentialClientApplication(
            tenant["client_id"],
            client_credential=tenant["client_secret"],
            authority=tenant["authority"],
            http_client=session,
            instance_discovery=False,
        )
        self.requests = 0

    def _token(self) -> str:
        result = self.app.acquire_token_for_client(scopes=GRAPH_SCOPE)
        return str(result["access_token"])

    def call(self, method: str, url: str, body: Any = None) -> Any:
        target = url if url.startswith("https://") else self.base + url
        while True:
            self.requests += 1
            answer = self.session.request(
                method,
                target,
                json=body,
                headers={
                    "Authorization": f"Bearer {self._token()}",
                    "Prefer": 'outlook.timezone="UTC"',
                },
                timeout=(5, 60),
            )
            if answer.status_code in (429, 503, 504):
                time.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            answer.raise_for_status()
            return answer.json() if answer.content else None

    def pages(self, url: str) -> Iterator[dict[str, Any]]:
        while url:
            body = self.call("GET", url)
            yield from body.get("value", [])
            url = body.get("@odata.nextLink") or ""


class Peer:
    def __init__(self, config_path: Path) -> None:
        config = load_config(config_path)
        self.tenant: TenantConfig = config.tenants[TENANT]
        assert self.tenant.sandbox.connection_file is not None
        connection = json.loads(self.tenant.sandbox.connection_file.read_text())
        session = requests.Session()
        session.trust_env = False
        session.verify = connection["ca_file"]
        self.graph = Graph(connection, session)
        org = next(t for t in connection["tenants"] if t["name"] == TENANT)["salesforce"]
        token = session.post(
            org["login_url"].rstrip("/") + "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": org["client_id"],
                "client_secret": org["client_secret"],
            },
            timeout=30,
        ).json()
        self.sf = Salesforce(
            instance_url=token["instance_url"], session_id=token["access_token"], session=session
        )
        self.fields = self.tenant.salesforce.fields

    # -- Salesforce reads (the same pages syncd reads) ----------------------------------
    def events_in_window(self, now: datetime) -> list[dict[str, Any]]:
        scope = self.tenant.salesforce.scope
        soql = q.events_in_window(
            now - timedelta(days=scope.days_past),
            now + timedelta(days=scope.days_future),
            scope.extra_filter,
            (self.fields.event.outlook_event_id,),
        )
        return list(self.sf.query_all_iter(soql))

    def relations(self, event_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for first in range(0, len(event_ids), RELATION_CHUNK):
            chunk = event_ids[first : first + RELATION_CHUNK]
            for row in self.sf.query_all_iter(q.relations_of(chunk)):
                grouped.setdefault(row["EventId"], []).append(row)
        return grouped

    def meetings(self, now: datetime) -> list[tuple[str, Any]]:
        rows = self.events_in_window(now)
        relations = self.relations([r["Id"] for r in rows])
        out = []
        for row in rows:
            event = parse_event(row, relations.get(row["Id"], ()))
            meeting = to_meeting(
                event,
                in_org=self.tenant.is_in_org,
                teams_keyword=self.tenant.policy.teams_keyword,
            )
            out.append((row["Id"], meeting))
        return out

    # -- jobs ------------------------------------------------------------------------------
    def initial(self, now: datetime) -> dict[str, Any]:
        created = failed = 0
        keyword = self.tenant.policy.teams_keyword
        for event_id, meeting in self.meetings(now):
            if isinstance(meeting, Invalid):
                failed += 1
                continue
            content = em.event_content(meeting, teams_keyword=keyword)
            payload = em.create_payload(
                content,
                transaction=em.transaction_id("naive-peer", "salesforce", event_id, 0),
                key=em.external_key("naive-peer", "salesforce", event_id),
            )
            mailbox = quote(meeting.organizer_email, safe="@")
            try:
                made = self.graph.call("POST", f"/users/{mailbox}/events", payload)
            except requests.HTTPError:
                failed += 1
                continue
            created += 1
            self.sf.Event.update(
                event_id,
                {
                    self.fields.event.sync_status: "Synced",
                    self.fields.event.outlook_event_id: made["id"],
                    self.fields.event.synced_at: format_gmt(now),
                },
            )
        return {"created": created, "failed": failed}

    def poll(self, now: datetime, ledger: Path) -> dict[str, Any]:
        """No watermark: read the whole window again and compare with what it holds."""
        keyword = self.tenant.policy.teams_keyword
        known = {
            row[0]: row[1]
            for row in _ledger_rows(ledger, "external_id, content_hash", "status = 'synced'")
        }
        changed = 0
        for event_id, meeting in self.meetings(now):
            if isinstance(meeting, Invalid):
                continue
            digest = em.content_hash(em.event_content(meeting, teams_keyword=keyword))
            if known.get(event_id) != digest:
                changed += 1
        return {"records": len(known), "changed": changed}

    def responses(self, ledger: Path) -> dict[str, Any]:
        rows = _ledger_rows(
            ledger,
            "external_id, organizer_email, graph_event_id, responses",
            "status = 'synced' AND graph_event_id IS NOT NULL",
        )
        changed: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for event_id, organizer, graph_id, stored in rows:
            mailbox = quote(organizer, safe="@")
            event = self.graph.call(
                "GET", f"/users/{mailbox}/events/{quote(graph_id, safe='')}?$select=attendees"
            )
            now_answers = em.attendee_responses(event)
            before = json.loads(stored) if stored else {}
            if now_answers != before:
                changed[event_id] = (before, now_answers)
        relations = self.relations(list(changed))
        written = 0
        for event_id, (before, after) in changed.items():
            for invitee in parse_event({"Id": event_id}, relations.get(event_id, [])).invitees:
                email = (invitee.email or "").casefold()
                answer = after.get(email)
                if not answer or answer == before.get(email):
                    continue
                status = {"accepted": "Accepted", "declined": "Declined"}.get(
                    str(answer.get("response")), "New"
                )
                self.sf.EventRelation.update(invitee.relation_row_id, {"Status": status})
                written += 1
            if self.fields.event.responses_summary:
                self.sf.Event.update(
                    event_id, {self.fields.event.responses_summary: responses_summary(after)}
                )
                written += 1
        return {"meetings_checked": len(rows), "meetings_changed": len(changed), "written": written}

    def busy(self, email: str, start: datetime, end: datetime) -> list[list[str]]:
        url = (
            f"/users/{quote(email, safe='@')}/calendarView?startDateTime={format_gmt(start)}"
            f"&endDateTime={format_gmt(end)}&$select=start,end,showAs&$top={PAGE_TOP}"
        )
        try:
            return [
                [e["start"]["dateTime"], e["end"]["dateTime"]]
                for e in self.graph.pages(url)
                if e.get("showAs") not in ("free",)
            ]
        except requests.HTTPError:
            return []

    def availability(self, emails: list[str], start: datetime, days: float) -> dict[str, Any]:
        end = start + timedelta(days=days)
        slots = sum(len(self.busy(email, start, end)) for email in emails)
        return {"users": len(emails), "busy_slots": slots}

    def snapshot(self, start: datetime) -> dict[str, Any]:
        target = self.fields.user.availability_snapshot
        end = start + timedelta(days=self.tenant.salesforce.schedules.availability_horizon_days)
        users = list(self.sf.query_all_iter(q.in_org_users(self.tenant.mail_domains)))
        for user in users:
            busy = self.busy(user["Email"], start, end)
            text = json.dumps({"from": format_gmt(start), "to": format_gmt(end), "busy": busy})
            self.sf.User.update(user["Id"], {target: text})
        # A user whose calendar cannot be read gets an empty snapshot: naive, and written.
        return {"users": len(users), "written": len(users)}


def _ledger_rows(path: Path, columns: str, where: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return list(
            db.execute(
                f"SELECT {columns} FROM meeting WHERE tenant = ? AND source = 'salesforce' "  # noqa: S608
                f"AND {where} ORDER BY id",
                (TENANT,),
            )
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive_peer")
    parser.add_argument("job", choices=("initial", "poll", "responses", "availability", "snapshot"))
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--ledger", type=Path, help="the copy of syncd's ledger it remembers")
    parser.add_argument("--emails", type=Path)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    peer = Peer(args.config)
    now = datetime.now(UTC) + timedelta(seconds=args.clock_offset)
    jobs: dict[str, Callable[[], dict[str, Any]]] = {
        "initial": lambda: peer.initial(now),
        "poll": lambda: peer.poll(now, args.ledger),
        "responses": lambda: peer.responses(args.ledger),
        "availability": lambda: peer.availability(
            args.emails.read_text().split(), now.replace(second=0, microsecond=0), args.days
        ),
        "snapshot": lambda: peer.snapshot(now.replace(second=0, microsecond=0)),
    }
    result: dict[str, Any] = {"job": args.job, "rss_before_mib": current_rss_mib()}
    runs = []
    for _ in range(max(1, args.repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        summary = jobs[args.job]()
        runs.append(
            {
                "wall_seconds": time.perf_counter() - wall,
                "cpu_seconds": time.process_time() - cpu,
                **summary,
            }
        )
    result["runs"] = runs
    result["wall_seconds"] = sum(r["wall_seconds"] for r in runs)
    result["cpu_seconds"] = sum(r["cpu_seconds"] for r in runs)
    result["graph_requests"] = peer.graph.requests
    result.update(child_usage())
    emit(result)


if __name__ == "__main__":
    main()
