"""Network guard for notebook kernels: with CONTRASTKIT_NO_NETWORK=1 on PYTHONPATH's path,
any Python socket connection beyond loopback raises. `make test` puts this folder on
PYTHONPATH for the notebook run, so a notebook that tries to download something fails."""

import os

if os.environ.get("CONTRASTKIT_NO_NETWORK") == "1":
    import ipaddress
    import socket

    _connect = socket.socket.connect
    _getaddrinfo = socket.getaddrinfo

    def _local(host) -> bool:
        if host in ("localhost", "", None):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _guarded_connect(self, address):
        if isinstance(address, tuple) and not _local(address[0]):
            raise OSError(f"contrastkit runs offline: refused a connection to {address!r}")
        return _connect(self, address)

    def _guarded_getaddrinfo(host, *args, **kwargs):
        if not _local(host):
            raise OSError(f"contrastkit runs offline: refused to resolve {host!r}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = _guarded_connect
    socket.getaddrinfo = _guarded_getaddrinfo
