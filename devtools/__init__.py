"""What the tests and the benchmarks share: where the stack is, probe events, and helpers
to read topics, wait for conditions and start a service and wait until it is ready.

Not part of the installed package (``shared`` and ``services`` never import it; an
import-linter contract keeps it so); it is imported from a checkout, as ``tests`` and
``bench`` are.
"""
