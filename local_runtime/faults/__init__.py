"""Breaking things on purpose: the faults the runtime injects (throttles, crashes, timeouts), and the soak that turns
them all on and checks that nothing was lost."""
