"""Demo mode: a private beanstalkd with a realistic, live, seeded workload.

Importing this package never imports textual; :func:`run_demo` loads the app
only when it opens it.
"""

from stalkview.demo.runner import DemoController, demo_environment, run_demo
from stalkview.demo.server import (
    BeanstalkdNotFound,
    DemoServer,
    DemoServerError,
    find_beanstalkd,
)
from stalkview.demo.workload import SeedSummary, Workload, WorkloadStats, plan_seed, seed

__all__ = [
    "BeanstalkdNotFound",
    "DemoController",
    "DemoServer",
    "DemoServerError",
    "SeedSummary",
    "Workload",
    "WorkloadStats",
    "demo_environment",
    "find_beanstalkd",
    "plan_seed",
    "run_demo",
    "seed",
]
