"""`trip-replay cutover`: blue-green versions of the search table."""
