"""gpuladder.pricing"""
