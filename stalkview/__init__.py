"""stalkview: see and operate beanstalkd work queues from the terminal."""

__version__ = "0.1.0"
