"""gpuladder.solver.backends"""
