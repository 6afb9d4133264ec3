"""Class codes: what a teacher reads out and a phone types, so short, and without characters that
look alike (no 0/O, 1/I/L, 2/Z, 5/S, 8/B, U/V).

Guessing: 23^5 = 6.4 million codes of five characters; a client address may try GUESSES_PER_MINUTE
unknown codes a minute (app/drawings/guard.py's RateLimit), so finding one of 40 classes open at once
takes, on average, 6.4e6 / 2 / (40 x 30) = 2,700 minutes from one address: a lesson lasts 45.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "34679ACDEFGHJKMNPQRTWXY"  # 23 characters, none mistaken for another on a board or a phone
LENGTH = 5  # 23^5 = 6.4 million codes
GUESSES_PER_MINUTE = 30  # unknown codes one address may try a minute (a 404 costs a token)
PATTERN = re.compile(f"[{ALPHABET}]{{4,6}}")  # what a code can be (4-6 characters; new ones have LENGTH)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normal(text: str) -> str | None:
    """A typed code as stored (upper case, spaces and dashes dropped), or None if it cannot be one."""
    code = re.sub(r"[\s-]", "", text).upper()
    return code if PATTERN.fullmatch(code) else None
