"""The simulated Microsoft side: Entra ID (identity platform) and Microsoft Graph calendars."""
