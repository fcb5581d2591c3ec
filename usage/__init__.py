"""gpuladder.usage"""
