"""The catalogue of malformed Salesforce Events and EventRelations, and what syncd says of each.

Every entry builds one Event in the sandbox org and names the reason syncd must
give for it: the reason lands in the ledger (status failed, last_error_message)
and in Salesforce (Sync_Status__c = "Failed", Sync_Error__c).

Most entries are written the way a person would write them, through the org's
Python API, which enforces the rules Salesforce enforces on its REST API. Data
that Salesforce itself refuses on that path (an end before the start, an event
of 15 days, a Subject of 300 characters, an address that is not one) still
reaches orgs through data loads, validation rules changed after the fact, old
API versions and managed packages, and syncd must defend against it: such
entries are written straight into the org's store with `force` (marked
"forced" in their summary), as if the data had got into Salesforce anyway.

`GOOD` lists records that look odd but are not errors (duplicate invitees, the
organizer invited to their own meeting, HTML in the description, an unknown
owner time zone, values at their limits): they must sync, and correctly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from syncd.sandbox.salesforce.org import SalesforceOrg

#: How far ahead of now the catalogue's Events start (well inside the sync window).
LEAD_TIME = timedelta(days=3)


@dataclass
class Maker:
    """Builds catalogue records in the org; `facts` keeps ids a reason needs."""

    org: SalesforceOrg
    owner: str  # an in-org user with a mailbox
    colleague: str  # another one
    no_mailbox: str  # an in-org Entra user without an Exchange mailbox
    third: str  # two more users with mailboxes, whose User records some entries change
    fourth: str
    start: datetime
    counter: int = 0
    facts: dict[str, str] = field(default_factory=dict)

    def slot(self) -> tuple[datetime, datetime]:
        """A distinct one-hour slot per record (so meetings never collide)."""
        self.counter += 1
        begin = self.start + timedelta(hours=self.counter)
        return begin, begin + timedelta(hours=1)

    def event(self, subject: str, *, owner: str | None = None, **values: Any) -> str:
        begin, end = self.slot()
        values.setdefault("start", begin)
        values.setdefault("end", end)
        return self.org.create_event(owner or self.owner, subject, **values)

    def user(self, email: str, **values: Any) -> str:
        return self.org.add_user(email, **values)

    def force(self, record_id: str, **values: Any) -> None:
        """Write field values straight into the stored record, past Salesforce's own checks.

        Models data that got into Salesforce anyway (see the module docstring);
        SystemModstamp moves as on any write, so the next poll reads the record.
        """
        with self.org.lock:
            record = self.org.data.find(record_id)
            assert record is not None, record_id
            for name, value in values.items():
                setattr(record, name, value)
            record.SystemModstamp = self.org.now()

    def drop_user(self, user_id: str) -> None:
        """Remove a User record from the org (forced: Salesforce only deactivates users;
        models an owner syncd's integration user can no longer read)."""
        with self.org.lock:
            self.org.data.store("User").live.pop(user_id)

    def invitee_event(self, subject: str, who: str) -> str:
        """An event inviting `who` (an id); remembers the id for the reason."""
        event_id = self.event(subject, invitees=[self.colleague, who])
        self.facts[subject] = who
        return event_id


Reason = Callable[[Maker, str], str]


@dataclass(frozen=True)
class Kind:
    """One kind of bad record: how to make it, and the reason syncd must give."""

    name: str
    summary: str
    make: Callable[[Maker], str]
    reason: Reason
    #: False: the reason comes from Microsoft 365 (through the core) and only its
    #: beginning is fixed; the rest names Graph's request id.
    exact: bool = True


def _fixed(text: str) -> Reason:
    return lambda _maker, _event_id: text


def _foreign_owner(name: str, email: str, what: str) -> Kind:
    def make(m: Maker) -> str:
        return m.event(f"owner {email}", owner=m.user(email))

    return Kind(
        name,
        f"the owner is {what} ({email})",
        make,
        _fixed(
            f"the owner {email} is not in the organization's mail domains; "
            "only in-org users can organize Outlook meetings"
        ),
    )


def _owner_without_email(m: Maker) -> str:
    owner = m.user("nomail.owner@northwind.example")
    event_id = m.event("owner without e-mail", owner=owner)
    m.force(owner, Email=None)
    return event_id


def _owner_record_missing(m: Maker) -> str:
    owner = m.user("vanished.owner@northwind.example")
    event_id = m.event("owner record missing", owner=owner)
    m.drop_user(owner)
    m.facts["owner record missing"] = owner
    return event_id


def _owner_deactivated(m: Maker) -> str:
    owner = m.user("leaver@northwind.example")
    event_id = m.event("owner deactivated", owner=owner)
    m.org.update("User", owner, {"IsActive": False})
    return event_id


def _owner_email(address: str) -> Callable[[Maker], str]:
    def make(m: Maker) -> str:
        owner = m.user(f"placeholder{m.counter}@northwind.example")
        event_id = m.event(f"owner address {address!r}", owner=owner)
        m.force(owner, Email=address)
        return event_id

    return make


def _timed(subject: str, **forced: Any) -> Callable[[Maker], str]:
    def make(m: Maker) -> str:
        event_id = m.event(subject)
        record = m.org.record(event_id)
        values = {
            name: value(record) if callable(value) else value for name, value in forced.items()
        }
        m.force(event_id, **values)
        return event_id

    return make


def _all_day(subject: str, **forced: Any) -> Callable[[Maker], str]:
    def make(m: Maker) -> str:
        m.counter += 1
        day = (m.start + timedelta(days=m.counter)).date()
        event_id = m.org.create_event(m.owner, subject, all_day=True, activity_date=day)
        if forced:
            m.force(event_id, **forced)
        return event_id

    return make


def _text(subject: str, **values: Any) -> Callable[[Maker], str]:
    """An event whose text fields hold `values` (written as a person would)."""
    return lambda m: m.event(subject, **values)


def _forced_text(subject: str, **forced: Any) -> Callable[[Maker], str]:
    def make(m: Maker) -> str:
        event_id = m.event(subject)
        m.force(event_id, **forced)
        return event_id

    return make


def _contact_invitee(subject: str, email: str | None, *, lead: bool = False) -> Callable[..., str]:
    def make(m: Maker) -> str:
        person = (
            m.org.add_lead(email, "Lee", "Prospect")
            if lead
            else m.org.add_contact(email, "Cody", "Customer")
        )
        return m.invitee_event(subject, person)

    return make


def _forced_invitee(subject: str, email: str | None, *, user: bool = False) -> Callable[..., str]:
    """An invitee whose e-mail is forced after the invitation (Salesforce checks it on write)."""

    def make(m: Maker) -> str:
        if user:
            person = m.user(f"invitee{m.counter}@northwind.example")
        else:
            person = m.org.add_contact(f"invitee{m.counter}@example.org", "Ivy", "Invitee")
        event_id = m.invitee_event(subject, person)
        m.force(person, Email=email)
        return event_id

    return make


def _no_email(kind: str) -> Reason:
    return lambda m, event_id: (
        f"invitee {m.facts[_subject_of(m, event_id)]} ({kind}) has no e-mail address"
    )


def _bad_invitee(shown: str) -> Reason:
    return lambda m, event_id: (
        f"invitee {m.facts[_subject_of(m, event_id)]} has an invalid e-mail address '{shown}'"
    )


def _subject_of(m: Maker, event_id: str) -> str:
    return str(m.org.record(event_id)["Subject"])


def _no_mailbox_owner(m: Maker) -> str:
    return m.event("owner without mailbox", owner=m.no_mailbox)


def _integration_owner(m: Maker) -> str:
    username = m.org.integration_username
    assert username is not None
    return m.event("owner is the integration user", owner=username)


TOO_LONG_TIME = timedelta(days=14, minutes=1)
NOT_AFTER = "EndDateTime is not after StartDateTime"
OVER_14_DAYS = "the event lasts more than 14 days, which Salesforce forbids"
TIMES_REQUIRED = "StartDateTime and EndDateTime are required"

BAD: tuple[Kind, ...] = (
    # ------------------------------------------------------------ the owner (organizer)
    Kind(
        "owner_without_email",
        "the owner's User record has no e-mail address (forced)",
        _owner_without_email,
        _fixed("the event's owner has no e-mail address"),
    ),
    Kind(
        "owner_record_missing",
        "the owner's User record cannot be read (forced: deleted / not visible)",
        _owner_record_missing,
        lambda m, _id: (
            f"the event's owner {m.facts['owner record missing']} cannot be read in "
            "Salesforce (deleted, or not visible to syncd's integration user); "
            "assign the event to an active in-org user"
        ),
    ),
    Kind(
        "owner_deactivated",
        "the owner was deactivated after creating the event (a 'deleted' user)",
        _owner_deactivated,
        _fixed("the owner leaver@northwind.example is an inactive Salesforce user"),
    ),
    _foreign_owner("owner_foreign_domain", "rep@fabrikam.example", "a user of another company"),
    _foreign_owner(
        "owner_lookalike_domain",
        "rep@northwind.example.attacker.test",
        "on a domain that starts like the org's",
    ),
    _foreign_owner(
        "owner_subdomain", "rep@sales.northwind.example", "on a subdomain not configured"
    ),
    Kind(
        "owner_address_not_an_address",
        "the owner's e-mail is not an address (forced)",
        _owner_email("christie at northwind.example"),
        _fixed("the owner's e-mail address 'christie at northwind.example' is invalid"),
    ),
    Kind(
        "owner_address_with_line_break",
        "the owner's e-mail holds a line break and a fake log line (forced)",
        _owner_email("x\n2030-01-01 ERROR forged@northwind.example"),
        _fixed(
            "the owner's e-mail address 'x\\n2030-01-01 ERROR forged@northwind.example' is invalid"
        ),
    ),
    Kind(
        "owner_without_mailbox",
        "the owner is an in-org Entra user without an Exchange mailbox",
        _no_mailbox_owner,
        lambda m, _id: f"OrganizerNotFound: organizer {m.no_mailbox} has no mailbox in this tenant",
        exact=False,
    ),
    Kind(
        "owner_not_in_entra",
        "the owner is an in-org Salesforce user unknown to Microsoft 365",
        _integration_owner,
        lambda m, _id: (
            f"OrganizerNotFound: organizer {m.org.integration_username} has no mailbox "
            "in this tenant"
        ),
        exact=False,
    ),
    # ------------------------------------------------------------ times
    Kind(
        "end_before_start",
        "EndDateTime an hour before StartDateTime (forced)",
        _timed("end before start", EndDateTime=lambda r: r["StartDateTime"] - timedelta(hours=1)),
        _fixed(NOT_AFTER),
    ),
    Kind(
        "zero_length",
        "EndDateTime equal to StartDateTime (DurationInMinutes 0)",
        lambda m: m.event("zero length", duration_minutes=0, end=None),
        _fixed(NOT_AFTER),
    ),
    Kind(
        "longer_than_14_days",
        "a timed event of 14 days and 1 minute (forced)",
        _timed("too long", EndDateTime=lambda r: r["StartDateTime"] + TOO_LONG_TIME),
        _fixed(OVER_14_DAYS),
    ),
    Kind(
        "all_day_longer_than_14_days",
        "an all-day event of 15 days (forced)",
        _all_day("all-day too long", DurationInMinutes=15 * 1440),
        _fixed(OVER_14_DAYS),
    ),
    Kind(
        "missing_start",
        "no StartDateTime on a timed event (forced)",
        _timed("no start", StartDateTime=None),
        _fixed(TIMES_REQUIRED),
    ),
    Kind(
        "missing_end",
        "no EndDateTime on a timed event (forced)",
        _timed("no end", EndDateTime=None),
        _fixed(TIMES_REQUIRED),
    ),
    Kind(
        "all_day_without_date",
        "an all-day event without ActivityDate (forced)",
        _all_day("all-day no date", ActivityDate=None),
        _fixed("all-day event has no ActivityDate"),
    ),
    # ------------------------------------------------------------ text fields
    Kind(
        "subject_control_character",
        "a BEL character in the Subject",
        _text("ring \x07 ring"),
        _fixed("Subject contains control characters; remove them in Salesforce"),
    ),
    Kind(
        "description_nul",
        "a NUL character in the Description",
        _text("nul in description", description="before\x00after"),
        _fixed("Description contains control characters; remove them in Salesforce"),
    ),
    Kind(
        "location_terminal_escape",
        "an ANSI escape sequence in the Location",
        _text("escape in location", location="\x1b[31mRoom 1\x1b[0m"),
        _fixed("Location contains control characters; remove them in Salesforce"),
    ),
    Kind(
        "subject_too_long",
        "a Subject of 300 characters (forced; Salesforce allows 255)",
        _forced_text("long subject", Subject="S" * 300),
        _fixed("Subject is 300 characters long; at most 255 can be synced"),
    ),
    Kind(
        "description_too_long",
        "a Description of 40,000 characters (forced; Salesforce allows 32,000)",
        _forced_text("long description", Description="d" * 40_000),
        _fixed("Description is 40000 characters long; at most 32000 can be synced"),
    ),
    Kind(
        "location_too_long",
        "a Location of 300 characters (forced)",
        _forced_text("long location", Location="L" * 300),
        _fixed("Location is 300 characters long; at most 255 can be synced"),
    ),
    # ------------------------------------------------------------ invitees (EventRelation)
    Kind(
        "contact_invitee_without_email",
        "an invited Contact without an e-mail address",
        _contact_invitee("contact without e-mail", None),
        _no_email("Contact"),
    ),
    Kind(
        "lead_invitee_without_email",
        "an invited Lead without an e-mail address",
        _contact_invitee("lead without e-mail", None, lead=True),
        _no_email("Lead"),
    ),
    Kind(
        "user_invitee_without_email",
        "an invited User whose e-mail was removed (forced)",
        _forced_invitee("user without e-mail", None, user=True),
        _no_email("User"),
    ),
    Kind(
        "invitee_double_at",
        "an invitee address with two '@' (Salesforce accepts it)",
        _contact_invitee("double at", "jane@@example.org"),
        _bad_invitee("jane@@example.org"),
    ),
    Kind(
        "invitee_without_domain_dot",
        "an invitee address without a dot in the domain (forced)",
        _forced_invitee("no dot", "jane@localhost"),
        _bad_invitee("jane@localhost"),
    ),
    Kind(
        "invitee_display_name_form",
        "an invitee 'Name <address>' pasted into Email (forced)",
        _forced_invitee("display name", "Jane Doe <jane@example.org>"),
        _bad_invitee("Jane Doe <jane@example.org>"),
    ),
    Kind(
        "invitee_with_control_character",
        "an invitee address with a carriage return (forced)",
        _forced_invitee("carriage return", "jane\r@example.org"),
        _bad_invitee("jane\\r@example.org"),
    ),
    Kind(
        "invitee_address_too_long",
        "an invitee address of 412 characters (forced; shown shortened in the reason)",
        _forced_invitee("long address", "b" * 400 + "@example.org"),
        _bad_invitee("b" * 60 + "…" + "b" * 7 + "@example.org"),
    ),
)


# ---------------------------------------------------------------- odd but not errors

Check = Callable[[Maker, str, Any], None]


@dataclass(frozen=True)
class Good:
    """A record that looks odd but must sync; `check(maker, event_id, outlook_event)`."""

    name: str
    summary: str
    make: Callable[[Maker], str]
    check: Check


def addresses(outlook: Any) -> list[str]:
    return sorted(a.address.casefold() for a in outlook.attendees)


def _duplicates(m: Maker) -> str:
    # A Contact and a Lead with one address (in two spellings), and a Contact that
    # carries an invited colleague's address: each person is invited once.
    contact = m.org.add_contact("dup.person@example.org", "Dee", "Up")
    lead = m.org.add_lead("DUP.Person@Example.org", "Dee", "Up")
    twin = m.org.add_contact(m.colleague.upper(), "Col", "League")
    return m.event("duplicate invitees", invitees=[m.colleague, contact, lead, twin])


def _check_duplicates(m: Maker, _event_id: str, outlook: Any) -> None:
    assert addresses(outlook) == sorted([m.colleague.casefold(), "dup.person@example.org"])


def _organizer_invited(m: Maker) -> str:
    # The owner as a User invitee and again as a Contact with the owner's address.
    contact = m.org.add_contact(m.owner.upper(), "Own", "Er")
    return m.event("organizer invited", invitees=[m.owner, m.colleague, contact])


def _check_organizer_dropped(m: Maker, _event_id: str, outlook: Any) -> None:
    assert addresses(outlook) == [m.colleague.casefold()]
    assert outlook.organizer_address.casefold() == m.owner.casefold()


HTML_SUBJECT = "<script>alert('subject')</script> Review & <b>plan</b>"
HTML_BODY = (
    "<html><body onload=\"alert('x')\"><b>Agenda</b><img src=x onerror=alert(1)>\n"
    '<a href="javascript:alert(document.cookie)">click</a> &amp; &lt;done&gt;</body></html>'
)
HTML_LOCATION = "<iframe src=https://evil.example></iframe>"


def _check_html(m: Maker, _event_id: str, outlook: Any) -> None:
    # Carried as text, byte for byte: never sent as HTML, never escaped twice.
    assert outlook.subject == HTML_SUBJECT
    assert outlook.body_type == "text"
    assert outlook.body_content == HTML_BODY
    assert outlook.location["displayName"] == HTML_LOCATION


def _unknown_time_zone(m: Maker) -> str:
    event_id = m.event("owner in an unknown time zone", owner=m.third)
    owner = m.org.find_user(m.third)
    assert owner is not None
    # A TimeZoneSidKey no time zone database knows (a picklist value added by hand).
    m.force(owner, TimeZoneSidKey="Mars/Olympus_Mons")
    m.force(event_id)
    return event_id


def _check_utc_times(m: Maker, event_id: str, outlook: Any) -> None:
    record = m.org.record(event_id)
    # Salesforce datetimes are UTC whatever the owner's zone: the meeting is at that instant.
    assert outlook.start == record["StartDateTime"].replace(microsecond=0)
    assert outlook.end == record["EndDateTime"].replace(microsecond=0)


TEXT_AT_LIMITS = {"Subject": "s" * 255, "Description": "d" * 32_000, "Location": "l" * 255}


def _at_limits(m: Maker) -> str:
    return m.event(
        TEXT_AT_LIMITS["Subject"],
        description=TEXT_AT_LIMITS["Description"],
        location=TEXT_AT_LIMITS["Location"],
    )


def _check_limits(m: Maker, _event_id: str, outlook: Any) -> None:
    assert outlook.subject == TEXT_AT_LIMITS["Subject"]
    assert outlook.body_content == TEXT_AT_LIMITS["Description"]
    assert outlook.location["displayName"] == TEXT_AT_LIMITS["Location"]


def _fourteen_days(m: Maker) -> str:
    begin, _ = m.slot()
    return m.org.create_event(m.owner, "fourteen days", begin, begin + timedelta(days=14))


def _check_fourteen_days(m: Maker, _event_id: str, outlook: Any) -> None:
    assert outlook.end - outlook.start == timedelta(days=14)


MULTILINE = "Line one\r\nLine two\n\tindented — café ☕ עברית \u202etxt.exe\u202c 🎉"


def _check_multiline(m: Maker, _event_id: str, outlook: Any) -> None:
    assert outlook.body_content == MULTILINE


def _odd_owner_spelling(m: Maker) -> str:
    event_id = m.event("owner address in odd case", owner=m.fourth)
    owner = m.org.find_user(m.fourth)
    assert owner is not None
    m.force(owner, Email=f"  {m.fourth.upper()} ")
    m.force(event_id)
    return event_id


def _check_odd_owner(m: Maker, _event_id: str, outlook: Any) -> None:
    assert outlook.organizer_address.casefold() == m.fourth.casefold()


GOOD: tuple[Good, ...] = (
    Good(
        "duplicate_invitees",
        "one address invited three times (Contact, Lead in other case, Contact twin of a User)",
        _duplicates,
        _check_duplicates,
    ),
    Good(
        "organizer_invited",
        "the owner invited to their own meeting (as User and as Contact)",
        _organizer_invited,
        _check_organizer_dropped,
    ),
    Good(
        "html_and_script",
        "HTML and script in Subject, Description and Location",
        lambda m: m.event(HTML_SUBJECT, description=HTML_BODY, location=HTML_LOCATION),
        _check_html,
    ),
    Good(
        "unknown_time_zone",
        "the owner's TimeZoneSidKey is unknown",
        _unknown_time_zone,
        _check_utc_times,
    ),
    Good(
        "text_at_limits",
        "Subject, Description, Location at their limits",
        _at_limits,
        _check_limits,
    ),
    Good("fourteen_days", "a timed event of exactly 14 days", _fourteen_days, _check_fourteen_days),
    Good(
        "multiline_unicode",
        "CRLF, tabs, emoji, right-to-left text and a bidi override in the Description",
        lambda m: m.event("multiline", description=MULTILINE),
        _check_multiline,
    ),
    Good(
        "owner_address_odd_case",
        "the owner's e-mail in upper case with surrounding spaces (forced)",
        _odd_owner_spelling,
        _check_odd_owner,
    ),
)
