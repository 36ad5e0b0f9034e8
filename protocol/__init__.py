"""The narrow seam between the GIMP plug-in and the engine.

Everything in this package is standard library only and valid in both Python 2.7
(GIMP 2.10's Python-Fu) and Python 3 (GIMP 3 and the engine), so both sides read
one definition of the options, the job file, the events and the pixel exchange.
"""

PROTOCOL_VERSION = 1
