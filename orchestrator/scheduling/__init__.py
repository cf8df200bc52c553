"""Placing meeting requests into slots, optimally where it can be proven: the model the solvers
see, the solvers, the repair and the explanations. The program owns the requests (checking,
storing) and the run that writes the meetings (`program/schedule.py`)."""
