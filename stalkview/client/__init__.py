"""stalkview's asyncio beanstalkd client: greenstalk's API, pipelined.

async with Client(("127.0.0.1", 11300)) as client:
    job_id = await client.put("hello")
    job = await client.reserve()
    await client.delete(job)
"""

from stalkview.client.address import (
    DEFAULT_PORT,
    Address,
    AddressError,
    AddressLike,
    TcpAddress,
    UnixAddress,
    parse_address,
)
from stalkview.client.client import Client, Pipeline
from stalkview.client.commands import Call, Job, JobOrID
from stalkview.client.errors import (
    BadFormatError,
    BeanstalkConnectionError,
    BeanstalkdError,
    BodyDecodeError,
    BuriedError,
    CommandTimeoutError,
    ConnectionFailedError,
    ConnectionLostError,
    DeadlineSoonError,
    DrainingError,
    Error,
    ExpectedCrlfError,
    InternalError,
    JobTooBigError,
    MalformedReplyError,
    NotFoundError,
    NotIgnoredError,
    OutOfMemoryError,
    ProtocolError,
    ReplyTooLargeError,
    TimedOutError,
    UnknownCommandError,
    UnknownResponseError,
)
from stalkview.client.protocol import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR

__all__ = [
    "DEFAULT_DELAY",
    "DEFAULT_PORT",
    "DEFAULT_PRIORITY",
    "DEFAULT_TTR",
    "Address",
    "AddressError",
    "AddressLike",
    "BadFormatError",
    "BeanstalkConnectionError",
    "BeanstalkdError",
    "BodyDecodeError",
    "BuriedError",
    "Call",
    "Client",
    "CommandTimeoutError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "DeadlineSoonError",
    "DrainingError",
    "Error",
    "ExpectedCrlfError",
    "InternalError",
    "Job",
    "JobOrID",
    "JobTooBigError",
    "MalformedReplyError",
    "NotFoundError",
    "NotIgnoredError",
    "OutOfMemoryError",
    "Pipeline",
    "ProtocolError",
    "ReplyTooLargeError",
    "TcpAddress",
    "TimedOutError",
    "UnixAddress",
    "UnknownCommandError",
    "UnknownResponseError",
    "parse_address",
]
