"""syncd: Salesforce -> Microsoft 365 meeting scheduler and Scheduler API."""

__version__ = "0.1.0"
