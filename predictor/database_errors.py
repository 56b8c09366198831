"""Database errors that mean "not now" rather than a bug: locked, read-only, disk full, the
server gone. The prediction paths answer them with 503 and a message instead of a 500."""

from django.db import InternalError, OperationalError

# SQLite raises OperationalError for all of these; PostgreSQL raises InternalError for a write to
# a read-only (standby) database and OperationalError for a full disk or a lost connection.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InternalError)

DATABASE_UNAVAILABLE_MESSAGE = (
    "The database cannot take this request right now (it may be locked, read-only or full); "
    "nothing was stored. Please try again in a minute."
)
