"""Request pacing: one token bucket per key and base URL, shared by every client of a process (private)."""
