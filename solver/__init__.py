"""gpuladder.solver"""
