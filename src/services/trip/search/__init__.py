"""The read side of TripSearchTable: what a search asks for, how it pages, and what a caller may see."""
