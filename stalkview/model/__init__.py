"""The headless model the app renders: body decoding, job types, search, health hints, rates.

Pure logic, no I/O, and never imports textual.
"""

from stalkview.format import size as format_size
from stalkview.model.decode import (
    MAX_OUTPUT,
    DecodedBody,
    decode_body,
    hexdump,
    preview,
    safe_line,
    safe_text,
)
from stalkview.model.health import (
    Hint,
    is_poison,
    poison_reasons,
    server_hints,
    tube_hints,
)
from stalkview.model.joblike import JOB_STATES, JobLike
from stalkview.model.jobtype import job_type, shorten, type_from_value
from stalkview.model.rates import (
    RateTracker,
    ServerRates,
    TubeRateBook,
    TubeRates,
    eta,
    format_duration,
    format_rate,
    rate_view,
)
from stalkview.model.search import FIELDS, Query, QueryError, Term, body_haystacks, parse_query

__all__ = [
    "FIELDS",
    "JOB_STATES",
    "MAX_OUTPUT",
    "DecodedBody",
    "Hint",
    "JobLike",
    "Query",
    "QueryError",
    "RateTracker",
    "ServerRates",
    "Term",
    "TubeRateBook",
    "TubeRates",
    "body_haystacks",
    "decode_body",
    "eta",
    "format_duration",
    "format_rate",
    "format_size",
    "hexdump",
    "is_poison",
    "job_type",
    "parse_query",
    "poison_reasons",
    "preview",
    "rate_view",
    "safe_line",
    "safe_text",
    "server_hints",
    "shorten",
    "tube_hints",
    "type_from_value",
]
