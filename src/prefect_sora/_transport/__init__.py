"""The Sora API over HTTP: the client, its one retry loop, polling and waiting (private)."""
