"""Job bodies of the kinds real beanstalkd queues carry, drawn from a seeded random.Random.

Laravel (``displayName`` + ``CallQueuedHandler@call``), Backburner
(``{"class": ..., "args": [...]}``), plain typed JSON events, report payloads
large enough to matter, and a few deliberately awkward bodies (binary, gzip,
Rich markup with ANSI escapes) that a viewer must show literally.

Everything derives from the ``random.Random`` passed in and from a fixed
clock (:data:`BASE_TIME`), so the same seed gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
import random
import struct
import uuid
import zlib
from datetime import datetime, timezone
from typing import Any

#: 2024-05-14 09:00:00 UTC. Bodies carry timestamps relative to a fixed clock so
#: they are identical run after run.
BASE_TIME = 1715677200

_FIRST = ("dana", "li", "omar", "priya", "jonas", "amara", "kenji", "sofia", "mateo", "ines")
_LAST = ("kim", "wei", "haddad", "patel", "berg", "okafor", "sato", "rossi", "silva", "moreau")
_DOMAINS = ("example.com", "example.org", "mail.example.net")

EMAIL_JOBS = (
    "App\\Jobs\\SendWelcomeEmail",
    "App\\Jobs\\SendPasswordResetEmail",
    "App\\Mail\\OrderShipped",
    "App\\Notifications\\InvoicePaid",
)
EMAIL_ERRORS = (
    "SMTP 550 mailbox unavailable",
    "SMTP 552 message size exceeds fixed maximum",
    "SMTP 421 too many connections from your IP, try again later",
    "Swift_TransportException: Connection to smtp.example.com:587 timed out",
)
THUMBNAIL_ERRORS = (
    "MiniMagick::Invalid: unsupported image format",
    "Aws::S3::Errors::NoSuchKey: The specified key does not exist",
)
WEBHOOK_ERRORS = (
    "HTTP 500 Internal Server Error from endpoint",
    "HTTP 410 Gone: endpoint removed",
    "ReadTimeout: endpoint did not answer within 10 s",
    "SSL: CERTIFICATE_VERIFY_FAILED",
)
REPORT_ERRORS = (
    "MemoryError while rendering 1.2M rows",
    "psycopg.errors.QueryCanceled: canceling statement due to statement timeout",
)
WEBHOOK_EVENTS = ("order.paid", "order.refunded", "customer.created", "invoice.finalized")
REPORTS = ("monthly-revenue", "churn-cohorts", "inventory-aging", "ad-spend-by-channel")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _person(rng: random.Random) -> tuple[int, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return rng.randint(1000, 99999), f"{first}.{last}@{rng.choice(_DOMAINS)}"


def _php_string(text: str) -> str:
    return f's:{len(text.encode())}:"{text}";'


def _php_object(cls: str, props: dict[str, int | str]) -> str:
    # What Laravel's serialize() of a queued command looks like, so the body is
    # the real shape and not a simplification.
    fields = "".join(
        _php_string(k) + (f"i:{v};" if isinstance(v, int) else _php_string(v))
        for k, v in props.items()
    )
    return f'O:{len(cls.encode())}:"{cls}":{len(props)}:{{{fields}}}'


def laravel(
    rng: random.Random,
    display_name: str,
    props: dict[str, int | str],
    *,
    attempts: int = 0,
    timeout: int = 60,
    extra: dict[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "uuid": _uuid(rng),
        "displayName": display_name,
        "job": "Illuminate\\Queue\\CallQueuedHandler@call",
        "maxTries": 3,
        "maxExceptions": None,
        "failOnTimeout": False,
        "backoff": "10,60,300",
        "timeout": timeout,
        "retryUntil": None,
        "data": {"commandName": display_name, "command": _php_object(display_name, props)},
        "attempts": attempts,
    }
    body.update(extra or {})
    return to_json(body)


def email(rng: random.Random, *, error: str | None = None) -> bytes:
    user_id, address = _person(rng)
    props: dict[str, int | str] = {"userId": user_id, "email": address}
    if error is None:
        return laravel(rng, rng.choice(EMAIL_JOBS), props)
    failed_at = iso(BASE_TIME - rng.randint(60, 7200))
    return laravel(
        rng,
        rng.choice(EMAIL_JOBS),
        props,
        attempts=3,
        extra={"error": error, "failedAt": failed_at},
    )


def invoice(rng: random.Random) -> bytes:
    user_id, address = _person(rng)
    return laravel(
        rng,
        "App\\Jobs\\GenerateInvoicePdf",
        {"invoiceId": rng.randint(200000, 299999), "customerId": user_id, "email": address},
        timeout=120,
    )


def thumbnail(rng: random.Random, *, error: str | None = None) -> bytes:
    image = rng.randint(10**6, 10**7)
    body: dict[str, Any] = {
        "class": "ThumbnailJob",
        "args": [
            image,
            {
                "source": f"s3://media-uploads/originals/{image}.jpg",
                "sizes": rng.choice(([64, 128], [128, 256, 512], [256, 1024])),
                "format": rng.choice(("webp", "jpeg")),
            },
        ],
    }
    if error is not None:
        body["error"] = error
    return to_json(body)


def webhook(rng: random.Random, *, attempt: int = 1, error: str | None = None) -> bytes:
    event = rng.choice(WEBHOOK_EVENTS)
    body: dict[str, Any] = {
        "type": "webhook.deliver",
        "id": f"evt_{rng.getrandbits(64):016x}",
        "event": event,
        "endpoint": f"https://hooks.example.com/{rng.choice(('acme', 'globex', 'initech'))}/in",
        "attempt": attempt,
        "created": iso(BASE_TIME - rng.randint(0, 3600)),
        "payload": {"object": event.split(".")[0], "id": rng.randint(1, 10**6)},
    }
    if error is not None:
        body["error"] = error
    return to_json(body)


def report(rng: random.Random, *, rows: int = 0, error: str | None = None) -> bytes:
    """A report request; ``rows`` inlines a result preview (about 100 bytes a row)."""
    body: dict[str, Any] = {
        "type": "report.generate",
        "report": rng.choice(REPORTS),
        "format": rng.choice(("csv", "xlsx", "pdf")),
        "requestedBy": _person(rng)[1],
        "params": {"from": iso(BASE_TIME - 30 * 86400), "to": iso(BASE_TIME)},
    }
    if rows:
        body["preview"] = [
            {
                "day": iso(BASE_TIME - i * 3600)[:13],
                "region": rng.choice(("eu-west", "us-east", "ap-south")),
                "orders": rng.randint(0, 5000),
                "revenue": round(rng.uniform(0, 90000), 2),
            }
            for i in range(rows)
        ]
    if error is not None:
        body["error"] = error
    return to_json(body)


def report_gzip(rng: random.Random) -> bytes:
    """A gzip-compressed report body: binary, as some producers send to save space."""
    return gzip.compress(report(rng, rows=60), mtime=0)


def png(rng: random.Random, width: int = 64, height: int = 64) -> bytes:
    """A small, valid-looking PNG: signature and IHDR, then noise."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    pixels = zlib.compress(rng.randbytes(512))
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def terminal_trap() -> bytes:
    """A body full of Rich markup and ANSI escapes: a viewer must print it literally."""
    return (
        b"[bold red]deploy finished[/bold red] [link=https://evil.example]click me[/link] "
        b"\x1b[2J\x1b[H\x1b[31mthis line cleared your screen\x1b[0m \x07"
    )


def misc(rng: random.Random) -> bytes:
    kind = rng.randrange(3)
    if kind == 0:
        return rng.choice((b"cache:clear", b"sitemap:generate", b"ping"))
    if kind == 1:
        return to_json({"type": "search.reindex", "index": "products", "id": rng.randint(1, 10**5)})
    return to_json({"type": "audit.log", "actor": _person(rng)[1], "action": "login"})
