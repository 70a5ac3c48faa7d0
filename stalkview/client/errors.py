"""Exceptions: one class per server reply word, all under :class:`Error`.

The names match greenstalk's so code moving between the two clients keeps its
``except`` clauses. Connection problems are their own branch
(:class:`BeanstalkConnectionError`) because the caller's reaction differs: a
server reply is an answer, a lost connection means the answer never came.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every error stalkview's client raises."""


class BeanstalkdError(Error):
    """The server answered with an error reply word.

    Built without arguments (a batch of 10,000 lookups may make 5,000 of
    them), the message comes from the class: the reply word and what it means.
    """

    #: The reply word this class stands for, e.g. ``"NOT_FOUND"``.
    reply: str = ""
    #: What the reply means, for the default message.
    meaning: str = ""

    def __str__(self) -> str:
        if self.args:
            return super().__str__()
        return f"{self.reply}: {self.meaning}" if self.meaning else self.reply


class BuriedError(BeanstalkdError):
    """The server buried the job (out of memory growing its priority queue)."""

    reply = "BURIED"

    def __init__(self, id: int | None = None) -> None:
        self.id = id
        if id is None:
            super().__init__("the server buried the job: it ran out of memory growing its queue")
        else:
            super().__init__(f"the server buried job {id}: it ran out of memory growing its queue")


class DeadlineSoonError(BeanstalkdError):
    reply = "DEADLINE_SOON"
    meaning = (
        "a job reserved by this connection is about to pass its TTR: delete, release or touch it"
    )


class DrainingError(BeanstalkdError):
    reply = "DRAINING"
    meaning = "the server is draining and accepts no new jobs: put them on another server"


class ExpectedCrlfError(BeanstalkdError):
    reply = "EXPECTED_CRLF"
    meaning = "the job body was not followed by CRLF (a client bug)"


class InternalError(BeanstalkdError):
    reply = "INTERNAL_ERROR"
    meaning = "the server hit an internal error (a server bug)"


class JobTooBigError(BeanstalkdError):
    reply = "JOB_TOO_BIG"
    meaning = "the job body is larger than the server's max job size (beanstalkd -z)"


class NotFoundError(BeanstalkdError):
    reply = "NOT_FOUND"
    meaning = "no such job or tube (or the job is reserved by another connection)"


class NotIgnoredError(BeanstalkdError):
    reply = "NOT_IGNORED"
    meaning = "cannot ignore the only watched tube: watch another one first"


class OutOfMemoryError(BeanstalkdError):
    reply = "OUT_OF_MEMORY"
    meaning = "the server is out of memory"


class TimedOutError(BeanstalkdError):
    reply = "TIMED_OUT"
    meaning = "no job became ready within the reserve timeout"


class UnknownCommandError(BeanstalkdError):
    reply = "UNKNOWN_COMMAND"
    meaning = "the server does not know this command (an older beanstalkd?)"


class BadFormatError(BeanstalkdError):
    reply = "BAD_FORMAT"
    meaning = "the server could not parse the command line (a client bug)"


class UnknownResponseError(Error):
    """The server answered with a reply word the command does not expect."""

    def __init__(self, status: str, values: list[str]) -> None:
        self.status = status
        self.values = values
        shown = " ".join([status, *values])
        super().__init__(f"unexpected reply from the server: {shown!r}")


class ProtocolError(Error):
    """The bytes from the server are not a well-formed reply; the connection is closed."""


class ReplyTooLargeError(ProtocolError):
    """A reply declared a body larger than the client's cap; the connection is closed.

    Raised from the reply's header, before its body is stored: a server cannot
    make the client allocate what it merely declares.
    """


class MalformedReplyError(ProtocolError):
    """A reply is well framed but its content is not what the command returns
    (a non-numeric id, a stats body with a list where a number belongs)."""


class BodyDecodeError(Error, ValueError):
    """A job body is not text in the client's encoding (use ``encoding=None`` for bytes)."""


class BeanstalkConnectionError(Error, OSError):
    """The connection could not be opened, or was lost. Names the address and why."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"{address}: {reason}")

    def __str__(self) -> str:
        return f"{self.address}: {self.reason}"


class ConnectionFailedError(BeanstalkConnectionError):
    """Connecting failed: refused, unreachable, no such socket, or timed out."""


class ConnectionLostError(BeanstalkConnectionError):
    """An open connection ended (EOF, reset, or closed by us) before a reply came."""


class CommandTimeoutError(BeanstalkConnectionError, TimeoutError):
    """No reply within the client's command timeout; the connection is closed."""


ERROR_REPLIES: dict[bytes, type[BeanstalkdError]] = {
    cls.reply.encode(): cls
    for cls in (
        BuriedError,
        DeadlineSoonError,
        DrainingError,
        ExpectedCrlfError,
        InternalError,
        JobTooBigError,
        NotFoundError,
        NotIgnoredError,
        OutOfMemoryError,
        TimedOutError,
        UnknownCommandError,
        BadFormatError,
    )
}

#: Reply words that are an error whatever the command. BURIED is not here: it
#: is the success reply of ``bury`` and an error only for put/release.
ALWAYS_ERRORS: dict[bytes, type[BeanstalkdError]] = {
    word: cls for word, cls in ERROR_REPLIES.items() if cls is not BuriedError
}
