"""What the service's fork server loads before it forks any child (`vigil.service.processes`).

Every camera worker needs the same libraries and modules (NumPy, OpenCV, PyAV, pydantic, the
engine): loaded once here, a forked child shares their pages with the server and with every
other child instead of holding its own copy (~30 MB of Python objects each). `gc.freeze()`
moves all of it out of the garbage collector's reach: a collection in a child would
otherwise write to every object's header and so copy every page.
"""

import gc

import vigil.service.worker.process  # noqa: F401 - loaded to be shared

gc.freeze()
