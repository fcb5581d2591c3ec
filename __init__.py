"""gpuladder: plan GPU cloud capacity purchases as a staggered purchase ladder."""

__version__ = "0.1.0"
