"""The program of an event: reading a program file, checking it (every problem at once, in
place), applying it as a change set, and its meeting requests with the run that places them."""
