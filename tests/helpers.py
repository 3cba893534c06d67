"""What more than one test module needs (importable: pytest puts tests/ on sys.path)."""
import socket


def free_port() -> int:
    "A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read it, release it: another process may take it between)."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]
