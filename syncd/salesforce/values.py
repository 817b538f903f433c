"""Values as Salesforce writes them (pure).

dateTime fields take "yyyy-MM-ddTHH:mm:ss.SSS+/-HHmm or yyyy-MM-ddTHH:mm:ss.SSSZ":
milliseconds at most
(https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_date_format.htm).
Graph writes DateTimeOffset values with seven fractional digits
("2026-01-05T10:00:00.1234567Z"), which Salesforce's JSON reader refuses with
JSON_PARSER_ERROR, so a time taken from Graph is written again in this form.
"""

from __future__ import annotations

from datetime import UTC, datetime


def sf_datetime(value: datetime | str) -> str:
    """`2026-01-05T10:00:00.123Z`: UTC, milliseconds (truncated, as Salesforce keeps them).

    A string is read as ISO 8601 with any number of fractional digits; one without a
    zone is taken as UTC (Graph's DateTimeOffset read with outlook.timezone="UTC").
    Raises ValueError for text that is not a date and time.
    """
    # Python 3.11's fromisoformat reads any number of fractional digits (it keeps six).
    instant = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=UTC)
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
