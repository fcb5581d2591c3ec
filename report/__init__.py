"""gpuladder.report"""
