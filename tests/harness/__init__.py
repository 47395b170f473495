"""Test-only harness pieces: `faults.FaultProxy` (a TCP proxy that hangs or refuses on demand).

The private servers and the driver of generated projects live in the package,
`scalekit_gen.harness`, since `scalekit matrix --runtime` runs them too.
"""
