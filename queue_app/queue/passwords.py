"""Password hashes as ``method$salt$hex`` (the format Werkzeug writes), with hashlib only.

Hashes already stored (``scrypt:n:r:p$...`` or ``pbkdf2:sha256:iterations$...``)
keep working; new ones use scrypt with Werkzeug's default cost.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

SALT_CHARS = string.ascii_letters + string.digits
DEFAULT_METHOD = "scrypt:32768:8:1"
PBKDF2_ITERATIONS = 1_000_000


def _derive(method: str, salt: str, password: str) -> tuple[str, str]:
    """The hex digest of ``password`` and the method spelled in full."""
    name, *args = method.split(":")
    if name == "scrypt":
        n, r, p = (int(a) for a in args) if args else (2**15, 8, 1)
        digest = hashlib.scrypt(
            password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
        )
        return digest.hex(), f"scrypt:{n}:{r}:{p}"
    if name == "pbkdf2":
        if len(args) > 2:
            raise ValueError("pbkdf2 takes a hash name and a number of iterations")
        hash_name = args[0] if args else "sha256"
        iterations = int(args[1]) if len(args) == 2 else PBKDF2_ITERATIONS
        digest = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt.encode(), iterations)
        return digest.hex(), f"pbkdf2:{hash_name}:{iterations}"
    raise ValueError(f"unknown password hash method {name!r}")


def generate_password_hash(
    password: str, method: str = DEFAULT_METHOD, salt_length: int = 16
) -> str:
    """A new salted hash of ``password``."""
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(salt_length))
    digest, spelled = _derive(method, salt, password)
    return f"{spelled}${salt}${digest}"


def check_password_hash(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time)."""
    try:
        method, salt, digest = stored.split("$", 2)
        computed, _ = _derive(method, salt, password)
    except ValueError:
        return False
    return hmac.compare_digest(computed, digest)
