"""gpuladder.scenarios"""
