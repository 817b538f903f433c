"""Word lists for generated demo orgs: customers, meeting subjects, places."""

from __future__ import annotations

CUSTOMER_DOMAINS = (
    "fabrikam.example",
    "northwind.example",
    "adventure-works.example",
    "tailspin.example",
    "wingtip.example",
    "litware.example",
    "proseware.example",
    "woodgrove.example",
)

SUBJECTS = (
    "Discovery call with {company}",
    "{company} quarterly business review",
    "Product demo for {company}",
    "Contract negotiation: {company}",
    "Renewal check-in ({company})",
    "Onboarding kickoff with {company}",
    "Pricing review",
    "Pipeline review",
    "Weekly account sync",
    "Executive briefing: {company}",
    "Technical deep dive with {company}",
    "Follow-up: {company} proposal",
)

ALL_DAY_SUBJECTS = (
    "Trade show: {company} summit",
    "Customer workshop at {company}",
    "Sales kickoff",
    "Out of office",
    "Training day",
)

ROOMS = (
    "Room 4.01",
    "Room 2.15 (Harbour)",
    "Board room",
    "Customer briefing centre",
    "1 Microsoft Way, Redmond",
    "Café downstairs",
)

TEAMS_LOCATION = "MS Teams"

DESCRIPTIONS = (
    "Agenda: introductions, current setup, next steps.",
    "Please review the attached proposal before the call.",
    "Dial-in details to follow.",
    "Bring the updated pricing sheet.",
    "Notes from last meeting are in the account record.",
)

TITLES = (
    "Account Executive",
    "Sales Engineer",
    "Customer Success Manager",
    "Sales Director",
    "Solutions Architect",
)

CUSTOMER_TITLES = (
    "CTO",
    "Head of IT",
    "Procurement Manager",
    "VP Operations",
    "Finance Director",
    "Project Lead",
)

EVENT_TYPES = ("Meeting", "Meeting", "Meeting", "Meeting", "Call", "Call", "Other")
