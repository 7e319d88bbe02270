"""What survives a crash: atomic writes to fsspec storage, the journal, leases and downloads (private)."""
